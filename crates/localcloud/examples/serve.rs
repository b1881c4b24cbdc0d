//! Runs localcloud alone (like `vitrina localcloud serve`), for poking at it by hand:
//! `cargo run -p vitrina-localcloud --example serve -- 127.0.0.1:8780 ./localcloud-data`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8780".into());
    let data = args.next().unwrap_or_else(|| "./localcloud-data".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let cloud =
        vitrina_localcloud::LocalCloud::open(vitrina_localcloud::Config::new(&data, base.clone()))
            .await?;
    cloud.write_client_files()?;
    eprintln!("localcloud: serving {base}");
    axum::serve(listener, cloud.router()).await?;
    Ok(())
}
