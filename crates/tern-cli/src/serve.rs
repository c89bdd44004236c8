//! `tern serve` and `tern config …`: the scheduler and the HTTP API from a configuration file.

use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::Arc;

use serde_json::json;
use tern_service::{Config, SystemClock};

use crate::args::{ConfigCheckArgs, ServeArgs};
use crate::commands::Ctx;
use crate::output::Failure;

type Result<T = ()> = std::result::Result<T, Failure>;

/// Completes on Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub async fn serve(ctx: &Ctx, args: ServeArgs) -> Result {
    let config = Config::load(&args.config)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let node = config.node(Arc::new(SystemClock)).await?;
    let app = tern_api::router(node.clone(), &config.tokens).map_err(Failure::usage)?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener.local_addr().map_or_else(|_| config.listen.clone(), |a| a.to_string());
    let services: Vec<&str> = node.services().collect();
    let human = format!(
        "tern serve: listening on http://{address} (node {}, primary region {}, services: {})\n",
        node.id(),
        node.primary_region(),
        if services.is_empty() { "none".to_owned() } else { services.join(", ") }
    );
    ctx.out.result(&json!({ "listening": address, "node": node.id() }), &human);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let scheduler = {
        let node = node.clone();
        let stopped = stopped();
        let poll = config.poll_interval;
        tokio::spawn(async move { node.run(poll, stopped).await })
    };
    let server = tokio::spawn(tern_api::serve(listener, app, stopped()));
    stop_signal().await;
    tracing::info!("stopping: no new jobs; waiting for the running ones");
    let _ = stop_tx.send(true);
    let _ = scheduler.await;
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::new(format!("the HTTP server failed: {e}"))),
        Err(e) => Err(Failure::new(format!("the HTTP server failed: {e}"))),
    }
}

pub async fn config_check(ctx: &Ctx, args: ConfigCheckArgs) -> Result {
    let config = Config::load(&args.config)?;
    tern_api::auth::Auth::new(&config.tokens).map_err(Failure::usage)?;
    if args.open {
        config.open_regions().await?;
    }
    let mut human = String::new();
    let _ = writeln!(human, "{}: ok", args.config.display());
    let _ = writeln!(
        human,
        "  listen {}, primary region {}, {} regions, {} services, {} schedules, {} tokens{}",
        config.listen,
        config.primary_region,
        config.regions.len(),
        config.services.len(),
        config.services.iter().map(|s| s.schedules.len()).sum::<usize>(),
        config.tokens.len(),
        if args.open { ", repositories open" } else { "" }
    );
    ctx.out.result(&json!({ "ok": true, "config": args.config, "opened": args.open }), &human);
    Ok(())
}

pub fn hash_token(ctx: &Ctx) -> Result {
    let mut token = String::new();
    std::io::stdin().read_to_string(&mut token).map_err(|e| Failure::new(format!("cannot read the token: {e}")))?;
    let token = token.trim_end_matches(['\n', '\r']);
    if token.len() < 16 {
        return Err(Failure::usage(
            "a token must be at least 16 characters (use a random one, e.g. `openssl rand -hex 32`)",
        ));
    }
    let hash = tern_service::config::hash_token(token);
    ctx.out.result(&json!({ "blake3": hash }), &format!("{hash}\n"));
    Ok(())
}
