//! Server-side scripts: a registry of the Lua files in `src/lua/`, and the
//! NOSCRIPT fallback.
//!
//! Callers send `EVALSHA <sha> ...` like any other command, in the same batch
//! and pipeline. When the server answers NOSCRIPT (after a restart, a
//! failover or `SCRIPT FLUSH`), the command is re-sent once as `EVAL <code>`,
//! which also loads the script for the next calls.

use std::sync::OnceLock;

use crate::backend::{Args, Backend, Reply};
use crate::error::Result;

/// One Lua script of the library.
pub struct Script {
  pub name: &'static str,
  pub code: &'static str,
}

/// Every script, by name. Each `.lua` file's header lists its KEYS and ARGV.
pub static SCRIPTS: &[Script] = &[];

fn shas() -> &'static [String] {
  static SHAS: OnceLock<Vec<String>> = OnceLock::new();
  SHAS.get_or_init(|| {
    SCRIPTS
      .iter()
      .map(|s| redis::Script::new(s.code).get_hash().to_string())
      .collect()
  })
}

/// The SHA1 of the script called `name`.
pub fn sha(name: &str) -> Option<&'static str> {
  let i = SCRIPTS.iter().position(|s| s.name == name)?;
  shas().get(i).map(String::as_str)
}

/// The script whose SHA1 is `sha`.
pub fn by_sha(sha: &[u8]) -> Option<&'static Script> {
  let i = shas().iter().position(|s| s.as_bytes() == sha)?;
  SCRIPTS.get(i)
}

fn is_evalsha(args: &Args) -> bool {
  args
    .first()
    .is_some_and(|a| a.eq_ignore_ascii_case(b"EVALSHA"))
}

/// Runs `cmds` as one pipeline, then re-sends as EVAL (in one more pipeline)
/// every EVALSHA of a known script that the server did not have.
pub async fn exec(backend: &dyn Backend, cmds: Vec<Args>) -> Vec<Result<Reply>> {
  let scripted: Vec<(usize, Args)> = cmds
    .iter()
    .enumerate()
    .filter(|(_, args)| is_evalsha(args))
    .map(|(i, args)| (i, args.clone()))
    .collect();
  let mut results = backend.exec(cmds).await;
  if scripted.is_empty() {
    return results;
  }
  let mut retry_at = Vec::new();
  let mut retry = Vec::new();
  for (i, mut args) in scripted {
    let missing = matches!(results.get(i), Some(Err(e)) if e.message().starts_with("NOSCRIPT"));
    let script = args.get(1).and_then(|sha| by_sha(sha));
    if let (true, Some(script)) = (missing, script) {
      args[0] = b"EVAL".to_vec();
      args[1] = script.code.as_bytes().to_vec();
      retry_at.push(i);
      retry.push(args);
    }
  }
  if !retry.is_empty() {
    for (i, result) in retry_at.into_iter().zip(backend.exec(retry).await) {
      if let Some(slot) = results.get_mut(i) {
        *slot = result;
      }
    }
  }
  results
}
