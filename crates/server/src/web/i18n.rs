//! The pages' own text in English and Russian. Labels from packages are shown as the package
//! gives them; only vitrina's words live here.

/// The languages the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The language chosen by a `lang` cookie, else the browser's `Accept-Language` (the first
    /// of `ru`/`en` it names), else English.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = cookie.and_then(Lang::parse) {
            return l;
        }
        for part in accept_language.unwrap_or_default().split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("ru") {
                return Lang::Ru;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }
}

/// `(key, English, Russian)`.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("deployments", "My deployments", "Мои развёртывания"),
    (
        "no_deployments",
        "Nothing deployed yet.",
        "Пока ничего не развёрнуто.",
    ),
    ("service", "Service", "Сервис"),
    ("status", "Status", "Статус"),
    ("attempts", "Attempts", "Попытки"),
    ("deleting", "being deleted", "удаляется"),
    ("outputs", "Outputs", "Результаты"),
    (
        "reveal",
        "Reveal hidden values",
        "Показать скрытые значения",
    ),
    ("delete", "Delete", "Удалить"),
    (
        "delete_confirm",
        "Delete this deployment and its VMs and disks?",
        "Удалить развёртывание вместе с его ВМ и дисками?",
    ),
    ("log", "Log", "Журнал"),
    (
        "signin_to_deploy",
        "Sign in to deploy",
        "Войдите, чтобы развернуть",
    ),
    ("expired_form", "This form has expired", "Форма устарела"),
    (
        "expired_form_text",
        "Reload the page and send it again.",
        "Обновите страницу и отправьте форму ещё раз.",
    ),
    ("signin", "Sign in", "Войти"),
    ("signout", "Sign out", "Выйти"),
    ("signed_in_as", "Signed in as", "Вы вошли как"),
    (
        "signin_failed",
        "These credentials were not accepted.",
        "Эти данные не подошли.",
    ),
    ("as_consumer", "Consumer project", "Проект потребителя"),
    ("as_vendor", "Vendor", "Поставщик"),
    ("project_token", "Project API token", "API-токен проекта"),
    (
        "or_cloud_user",
        "or the project's cloud user",
        "или пользователь облака проекта",
    ),
    ("project_name", "Project", "Проект"),
    ("username", "User name", "Имя пользователя"),
    ("password", "Password", "Пароль"),
    ("service_token", "Service token", "Сервисный токен"),
    ("catalog", "Catalog", "Каталог"),
    ("search", "Search applications", "Поиск приложений"),
    ("search_button", "Search", "Найти"),
    (
        "nothing_found",
        "No application matches your search.",
        "По вашему запросу ничего не найдено.",
    ),
    ("from", "from", "от"),
    ("free", "Free", "Бесплатно"),
    ("per_month", "per month", "в месяц"),
    ("test_revision", "test revision", "тестовая ревизия"),
    ("open", "Open", "Открыть"),
    ("plans", "Plans", "Тарифы"),
    ("parameter", "Parameter", "Параметр"),
    ("price", "Price", "Стоимость"),
    ("choose_plan", "Choose", "Выбрать"),
    ("yes", "yes", "да"),
    ("no", "no", "нет"),
    ("documentation", "Documentation", "Документация"),
    ("plan_chosen", "Plan chosen", "Выбранный тариф"),
    ("change_plan", "Change plan", "Сменить тариф"),
    ("summary", "Monthly cost", "Стоимость в месяц"),
    ("plan_price", "Plan", "Тариф"),
    ("paid_options", "Paid options", "Платные опции"),
    ("infrastructure", "Infrastructure", "Инфраструктура"),
    ("total", "Total per month", "Итого в месяц"),
    ("billing_cycle", "Billed", "Списание"),
    ("steps", "steps", "шагов"),
    ("included", "included", "включено"),
    ("vm", "VM", "ВМ"),
    ("load_balancing", "Load balancer", "Балансировщик"),
    ("floating_ip", "Floating IP", "Публичный IP"),
    ("vcpu", "vCPU", "vCPU"),
    ("ram_gb", "GB RAM", "ГБ RAM"),
    ("gpu", "GPU", "GPU"),
    ("disk_gb", "GB disk", "ГБ диск"),
    ("next", "Continue", "Далее"),
    ("back", "Back", "Назад"),
    ("review", "Review and deploy", "Проверить и развернуть"),
    ("deploy", "Deploy", "Развернуть"),
    (
        "fix_errors",
        "Fix the highlighted fields first.",
        "Сначала исправьте отмеченные поля.",
    ),
    (
        "nothing_to_choose",
        "The cloud offers nothing to choose here.",
        "В облаке нечего выбрать.",
    ),
    ("decrease", "Decrease", "Уменьшить"),
    ("increase", "Increase", "Увеличить"),
    ("read_only", "cannot be changed", "нельзя изменить"),
    ("theme", "Theme", "Тема"),
    ("language", "Language", "Язык"),
    ("light", "Light", "Светлая"),
    ("dark", "Dark", "Тёмная"),
    ("not_found", "Not found", "Не найдено"),
    (
        "not_found_text",
        "There is no such page or application.",
        "Такой страницы или приложения нет.",
    ),
    ("server_info", "Server and cloud", "Сервер и облако"),
    (
        "cost_note",
        "Infrastructure is priced with this marketplace's tariffs.",
        "Инфраструктура рассчитана по тарифам этой витрины.",
    ),
    (
        "unknown_flavor",
        "choose a flavor to see its cost",
        "выберите тип ВМ, чтобы увидеть стоимость",
    ),
];

/// The text of `key` in `lang` (the key itself when unknown, so a missing entry shows).
pub fn t(lang: Lang, key: &str) -> &str {
    MESSAGES
        .iter()
        .chain(super::change::MESSAGES)
        .chain(super::vendor::MESSAGES)
        .chain(super::quota::MESSAGES)
        .chain(super::sdf::MESSAGES)
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, en, ru)| match lang {
            Lang::En => en,
            Lang::Ru => ru,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_choice_and_catalogue() {
        assert_eq!(
            Lang::choose(None, Some("ru-RU,ru;q=0.9,en;q=0.8")),
            Lang::Ru
        );
        assert_eq!(Lang::choose(Some("en"), Some("ru")), Lang::En);
        assert_eq!(Lang::choose(None, Some("de-DE,en;q=0.5")), Lang::En);
        assert_eq!(Lang::choose(None, None), Lang::En);
        assert_eq!(t(Lang::Ru, "deploy"), "Развернуть");
        let all: Vec<_> = MESSAGES
            .iter()
            .chain(super::super::vendor::MESSAGES)
            .chain(super::super::quota::MESSAGES)
            .chain(super::super::sdf::MESSAGES)
            .collect();
        let keys: std::collections::BTreeSet<_> = all.iter().map(|m| m.0).collect();
        assert_eq!(keys.len(), all.len(), "duplicate message keys");
    }
}
