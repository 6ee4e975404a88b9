//! `outlay sftp-keys add|list|revoke`: the public keys that may log in to the SFTP server as an
//! account (the SFTP user name is the account id).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use outlay_core::AccountId;
use outlay_engine::{Command, CommandError, Engine, Outcome};
use outlay_store::PageRequest;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum SftpKeysCmd {
    /// Register a public key (an OpenSSH .pub file) for an account.
    Add {
        #[arg(long)]
        account: String,
        #[arg(long)]
        key_file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List an account's active keys.
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it can no longer log in.
    Revoke {
        #[arg(long)]
        account: String,
        /// The key's id (from `list`).
        #[arg(long)]
        id: String,
    },
}

fn parse_account(text: &str) -> anyhow::Result<AccountId> {
    Ok(AccountId(uuid::Uuid::parse_str(text.trim()).with_context(|| format!("--account {text} is not a UUID"))?))
}

pub async fn run(engine: Arc<Engine>, cmd: SftpKeysCmd) -> anyhow::Result<i32> {
    match cmd {
        SftpKeysCmd::Add { account, key_file, json } => {
            let account = parse_account(&account)?;
            let text = std::fs::read_to_string(&key_file).with_context(|| format!("reading {}", key_file.display()))?;
            let key = outlay_engine::sftp_keys::parse_public_key(&text)
                .map_err(|e| anyhow::anyhow!("{}: the key {e}", key_file.display()))?;
            let command =
                Command::AddSftpKey { account, public_key: key.openssh.clone(), fingerprint: key.fingerprint.clone() };
            let row = match engine.execute(command).await {
                Ok(Outcome::SftpKey(row)) => row,
                Ok(other) => bail!("unexpected outcome {other:?}"),
                Err(CommandError::NotFound { .. }) => bail!("account {account} not found"),
                Err(e) => return Err(e.into()),
            };
            if json {
                println!(
                    "{}",
                    json!({"id": row.id, "account_id": account, "fingerprint": row.fingerprint, "algorithm": key.algorithm})
                );
            } else {
                println!("sftp key {} added for {account}: {} ({})", row.id, row.fingerprint, key.algorithm);
            }
            Ok(0)
        }
        SftpKeysCmd::List { account, json } => {
            let account = parse_account(&account)?;
            let page = engine.store().sftp_keys(account, PageRequest { number: 1, size: 100 }).await?;
            if json {
                let keys: Vec<_> = page
                    .items
                    .iter()
                    .map(|k| json!({"id": k.id, "fingerprint": k.fingerprint, "public_key": k.public_key}))
                    .collect();
                println!("{}", json!(keys));
            } else {
                for k in &page.items {
                    println!("{}  {}  {}", k.id, k.fingerprint, k.public_key);
                }
            }
            Ok(0)
        }
        SftpKeysCmd::Revoke { account, id } => {
            let account = parse_account(&account)?;
            let id = uuid::Uuid::parse_str(id.trim()).with_context(|| format!("--id {id} is not a UUID"))?;
            match engine.execute(Command::RevokeSftpKey { account, id }).await {
                Ok(_) => {
                    println!("sftp key {id} revoked");
                    Ok(0)
                }
                Err(CommandError::NotFound { .. }) => {
                    eprintln!("no active sftp key {id} for account {account}");
                    Ok(1)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
