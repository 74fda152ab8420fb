//! The cache's last resort: a private directory in the system's temporary directory,
//! for a run that names no cache (no `--cache-dir`, `WASGI_CACHE_DIR`,
//! `XDG_CACHE_HOME` nor `HOME`, as many web servers run a CGI program). Without it
//! every request would compile the component: seconds for a Python app.
//!
//! A shared temporary directory is where symlink and squatting attacks live, so the
//! directory is used only when nobody else can have made it or can change it; else
//! the run goes on without a cache and says so once.

use std::fs;
use std::io::{Error as IoError, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::Cache;

impl Cache {
    /// Where the cache goes when the user named none: [`Cache::default_dir`], else
    /// [`Cache::fallback_dir`] in `$TMPDIR` (`/tmp` when unset). `None`, after saying
    /// so once in the log with what to do, when no safe directory is found.
    pub fn default_or_fallback_dir(
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<PathBuf> {
        if let Some(dir) = Self::default_dir(&var) {
            return Some(dir);
        }
        let tmp = var("TMPDIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        match Self::fallback_dir(&tmp) {
            Ok(dir) => {
                tracing::debug!("no cache directory set; using {}", dir.display());
                Some(dir)
            }
            Err(e) => {
                tracing::warn!(
                    "no compile cache: neither WASGI_CACHE_DIR, XDG_CACHE_HOME nor HOME is set, and {e}; every run compiles the component (seconds for a Python app): set WASGI_CACHE_DIR to a directory of your own"
                );
                None
            }
        }
    }

    /// `TMP/wasgi-cache-UID`, created private to this user (0700) if missing, and
    /// used only if safe: it must be a real directory (not a symlink someone planted),
    /// owned by this user, with no access for anyone else; and `TMP` a directory where
    /// nobody else can rename it away (owned by root or this user, and not writable by
    /// others unless sticky, as `/tmp` is). Anyone who can write to a cache can make
    /// wasgi run their code. `Err` says what is wrong.
    pub fn fallback_dir(tmp: &Path) -> std::io::Result<PathBuf> {
        let uid = effective_uid();
        let refuse = |what: String| IoError::new(ErrorKind::PermissionDenied, what);
        let parent = fs::metadata(tmp).map_err(|e| {
            IoError::new(e.kind(), format!("{} cannot be used: {e}", tmp.display()))
        })?;
        let sticky = parent.mode() & 0o1000 != 0;
        if !parent.is_dir()
            || (parent.uid() != 0 && parent.uid() != uid)
            || (parent.mode() & 0o022 != 0 && !sticky)
        {
            return Err(refuse(format!(
                "{} is not a safe place for a cache (others could replace what is in it)",
                tmp.display()
            )));
        }
        let dir = tmp.join(format!("wasgi-cache-{uid}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(IoError::new(
                    e.kind(),
                    format!("{} cannot be created: {e}", dir.display()),
                ));
            }
        }
        // Not followed: a symlink is refused, wherever it points.
        let meta = fs::symlink_metadata(&dir)?;
        let unsafe_because = if meta.file_type().is_symlink() {
            Some("is a symbolic link".to_owned())
        } else if !meta.is_dir() {
            Some("is not a directory".to_owned())
        } else if meta.uid() != uid {
            Some(format!(
                "belongs to user {}, not to this user ({uid})",
                meta.uid()
            ))
        } else if meta.mode() & 0o077 != 0 {
            Some(format!(
                "has mode {:o}: others may use it (it must be 700)",
                meta.mode() & 0o777
            ))
        } else {
            None
        };
        match unsafe_because {
            Some(why) => Err(refuse(format!("{} {why}", dir.display()))),
            None => Ok(dir),
        }
    }
}

/// This process's effective user id: the owner of every file it creates.
#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh directory standing in for `/tmp`, with `mode`.
    fn tmp(name: &str, mode: u32) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wasgi-fallback-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).expect("dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).expect("chmod");
        dir
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).expect("meta").mode() & 0o7777
    }

    #[test]
    fn the_fallback_is_created_private_and_used_again() {
        let tmp = tmp("fresh", 0o1777);
        let dir = Cache::fallback_dir(&tmp).expect("a safe fallback");
        assert_eq!(dir, tmp.join(format!("wasgi-cache-{}", effective_uid())));
        assert_eq!(mode(&dir), 0o700);
        fs::write(dir.join("kept"), b"x").expect("write");
        assert_eq!(Cache::fallback_dir(&tmp).expect("again"), dir);
        assert!(
            dir.join("kept").exists(),
            "an existing one is used as it is"
        );
        fs::remove_dir_all(&tmp).expect("clean");
    }

    #[test]
    fn an_unsafe_fallback_is_refused_saying_why() {
        let uid = effective_uid();
        // Open to others.
        let open = tmp("open", 0o1777);
        let dir = open.join(format!("wasgi-cache-{uid}"));
        fs::create_dir(&dir).expect("dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let e = Cache::fallback_dir(&open).expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!(
                "{} has mode 777: others may use it (it must be 700)",
                dir.display()
            )
        );
        // Readable by the group only: still refused (a cache holds the app's code).
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).expect("chmod");
        assert!(Cache::fallback_dir(&open).is_err());
        // A planted symlink, even to a private directory of this user.
        let planted = tmp("planted", 0o1777);
        std::os::unix::fs::symlink(&dir, planted.join(format!("wasgi-cache-{uid}")))
            .expect("symlink");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
        let e = Cache::fallback_dir(&planted).expect_err("refused");
        assert!(e.to_string().ends_with("is a symbolic link"), "{e}");
        // A file in its place.
        let file = tmp("file", 0o1777);
        fs::write(file.join(format!("wasgi-cache-{uid}")), b"").expect("file");
        let e = Cache::fallback_dir(&file).expect_err("refused");
        assert!(e.to_string().ends_with("is not a directory"), "{e}");
        // A parent where others could rename it away: world-writable, not sticky.
        let loose = tmp("loose", 0o777);
        let e = Cache::fallback_dir(&loose).expect_err("refused");
        assert!(
            e.to_string().contains("is not a safe place for a cache"),
            "{e}"
        );
        assert!(
            !loose.join(format!("wasgi-cache-{uid}")).exists(),
            "nothing made"
        );
        for dir in [open, planted, file, loose] {
            fs::remove_dir_all(&dir).expect("clean");
        }
    }

    #[test]
    fn a_set_variable_wins_over_the_fallback() {
        let tmp = tmp("vars", 0o1777);
        let tmpdir = tmp.clone().into_os_string();
        let with = |name: &'static str, value: std::ffi::OsString| {
            move |n: &str| (n == name).then(|| value.clone())
        };
        assert_eq!(
            Cache::default_or_fallback_dir(with("HOME", "/h".into())),
            Some(PathBuf::from("/h/.cache/wasgi"))
        );
        assert_eq!(
            Cache::default_or_fallback_dir(with("TMPDIR", tmpdir)),
            Some(tmp.join(format!("wasgi-cache-{}", effective_uid())))
        );
        fs::remove_dir_all(&tmp).expect("clean");
    }
}
