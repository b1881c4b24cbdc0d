//! Reading zips: a packed package validates like its folder; hostile archives are rejected with
//! `package/unsafe-archive` and nothing is ever written.

mod common;

use std::io::Write as _;

use vitrina_package::codes;
use zip::write::SimpleFileOptions;

fn base_zip(extra: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
    let b = common::build(&[]);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in &b.texts {
        w.start_file(format!("demo/{path}"), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    extra(&mut w);
    w.finish().unwrap().into_inner()
}

fn codes_of(files: &vitrina_package::PackageFiles) -> Vec<(String, String)> {
    let v = vitrina_package::validate(files);
    v.diagnostics
        .iter()
        .map(|d| (d.code.to_owned(), d.span.file.clone()))
        .collect()
}

#[test]
fn packed_base_validates_clean() {
    let zip = base_zip(|_| {});
    let files = vitrina_package::read_zip_bytes(&zip, "demo").unwrap();
    assert_eq!(files.service_name, "demo");
    assert!(codes_of(&files).is_empty(), "{:?}", codes_of(&files));
}

fn assert_unsafe(zip: &[u8], entry_contains: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.zip");
    std::fs::write(&path, zip).unwrap();
    let before = list(dir.path());
    let v = vitrina_package::validate_path(&path).unwrap();
    let hit = v
        .diagnostics
        .iter()
        .find(|d| d.code == codes::PACKAGE_UNSAFE_ARCHIVE)
        .unwrap_or_else(|| panic!("no unsafe-archive diagnostic: {:?}", v.diagnostics));
    assert!(hit.message.contains(entry_contains), "{}", hit.message);
    assert!(hit.is_error());
    // Nothing was extracted: the temp folder and its parent are as before.
    assert_eq!(list(dir.path()), before);
    assert!(!dir.path().parent().unwrap().join("evil").exists());
    assert!(!std::path::Path::new("/tmp/evil-vitrina-test").exists());
}

fn list(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn dot_dot_entry_is_rejected() {
    let zip = base_zip(|w| {
        w.start_file("demo/../evil", SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"pwned").unwrap();
    });
    assert_unsafe(&zip, "`..`");
}

#[test]
fn absolute_entry_is_rejected() {
    let zip = base_zip(|w| {
        w.start_file("/tmp/evil-vitrina-test", SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"pwned").unwrap();
    });
    assert_unsafe(&zip, "absolute");
}

#[test]
fn symlink_entry_is_rejected() {
    let zip = base_zip(|w| {
        w.add_symlink(
            "demo/images/link.png",
            "/etc/passwd",
            SimpleFileOptions::default(),
        )
        .unwrap();
    });
    assert_unsafe(&zip, "link");
}

#[test]
fn honest_bomb_is_rejected_by_its_declared_ratio() {
    let zip = base_zip(|w| {
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("demo/images/zeros.bin", opts).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            w.write_all(&chunk).unwrap();
        }
    });
    assert!(
        zip.len() < 1 << 20,
        "64 MiB of zeros compress well: {}",
        zip.len()
    );
    assert_unsafe(&zip, "ratio");
}

/// Writes bits least-significant first, as deflate does.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push((self.acc & 0xff) as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, which deflate writes most-significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let mut rev = 0;
        for i in 0..len {
            rev |= ((code >> i) & 1) << (len - 1 - i);
        }
        self.put(rev, len);
    }
}

/// A real deflate stream (fixed Huffman codes) that expands to `1 + 258 × n` zero bytes.
fn zeros_deflate(n: u64) -> Vec<u8> {
    let mut b = Bits {
        out: Vec::new(),
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    b.code(0b0011_0000, 8); // literal 0
    for _ in 0..n {
        b.code(0b1100_0101, 8); // length code 285: 258 bytes
        b.code(0, 5); // distance code 0: distance 1
    }
    b.code(0, 7); // end of block
    b.put(0, 7);
    b.out
}

/// A zip with one entry whose headers claim `declared` bytes but whose deflate stream expands
/// to about 1 GB.
fn lying_bomb(declared: u32) -> Vec<u8> {
    lying_bomb_named(declared, "demo/images/bomb.bin")
}

fn lying_bomb_named(declared: u32, name: &str) -> Vec<u8> {
    let data = zeros_deflate(4_161_790); // 1 + 258 × 4,161,790 bytes ≈ 1.07 GB
    let name = name.as_bytes();
    let csize = data.len() as u32;
    let mut z = Vec::new();
    let local = |z: &mut Vec<u8>| {
        z.extend(0x0403_4b50u32.to_le_bytes());
        z.extend(20u16.to_le_bytes()); // version needed
        z.extend(0u16.to_le_bytes()); // flags
        z.extend(8u16.to_le_bytes()); // deflate
        z.extend(0u32.to_le_bytes()); // time, date
        z.extend(0u32.to_le_bytes()); // crc (wrong on purpose)
        z.extend(csize.to_le_bytes());
        z.extend(declared.to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend(0u16.to_le_bytes());
        z.extend(name);
    };
    local(&mut z);
    z.extend(&data);
    let cd_offset = z.len() as u32;
    z.extend(0x0201_4b50u32.to_le_bytes());
    z.extend(20u16.to_le_bytes()); // made by
    z.extend(20u16.to_le_bytes()); // needed
    z.extend(0u16.to_le_bytes());
    z.extend(8u16.to_le_bytes());
    z.extend(0u32.to_le_bytes());
    z.extend(0u32.to_le_bytes());
    z.extend(csize.to_le_bytes());
    z.extend(declared.to_le_bytes());
    z.extend((name.len() as u16).to_le_bytes());
    z.extend([0u8; 12]); // extra, comment, disk, internal attrs
    z.extend(0u32.to_le_bytes()); // external attrs
    z.extend(0u32.to_le_bytes()); // local header offset
    z.extend(name);
    let cd_size = z.len() as u32 - cd_offset;
    z.extend(0x0605_4b50u32.to_le_bytes());
    z.extend([0u8; 4]);
    z.extend(1u16.to_le_bytes());
    z.extend(1u16.to_le_bytes());
    z.extend(cd_size.to_le_bytes());
    z.extend(cd_offset.to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z
}

#[test]
fn bomb_declaring_1_gb_is_rejected_without_expanding() {
    let zip = lying_bomb(1_073_741_821);
    assert_unsafe(&zip, "ratio");
}

#[test]
fn bomb_declaring_1_kb_is_stopped_while_streaming() {
    let zip = lying_bomb(1024);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.zip");
    std::fs::write(&path, &zip).unwrap();
    let files = vitrina_package::read_package(&path).unwrap();
    // The entry is never held at more than its cap: either refused, or cut at its declared size.
    let held = files.files.get("images/bomb.bin").map_or(0, |f| f.size);
    assert!(held <= 1024 * 1024, "held {held} bytes");
    let v = vitrina_package::validate(&files);
    assert!(
        v.diagnostics
            .iter()
            .any(|d| d.code == codes::PACKAGE_UNSAFE_ARCHIVE),
        "{:?}",
        v.diagnostics
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(vitrina_package::read_zip_bytes(b"PK\x03\x04garbage", "x").is_err());
    assert!(vitrina_package::read_zip_bytes(&[], "x").is_err());
}

#[test]
fn text_bomb_declaring_1_kb_is_never_held_whole() {
    let zip = lying_bomb_named(1024, "demo/parameters/bomb.yaml");
    let files = vitrina_package::read_zip_bytes(&zip, "demo").unwrap();
    let held = files
        .files
        .get("parameters/bomb.yaml")
        .and_then(|f| f.data.as_ref())
        .map_or(0, Vec::len);
    assert!(held <= 16 * 1024 * 1024, "held {held} bytes");
    let v = vitrina_package::validate(&files);
    assert!(
        v.diagnostics
            .iter()
            .any(|d| d.code == codes::PACKAGE_UNSAFE_ARCHIVE),
        "{:?}",
        v.diagnostics
    );
}
