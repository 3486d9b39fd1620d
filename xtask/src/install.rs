//! Installs what the conformance tests need from outside Rust: `kcat` (from Debian's
//! packages) and a Python virtualenv at `<workspace>/.venv` holding Kafka's Python clients and
//! codec libraries, which serve as independent reference implementations.
//!
//! Both steps are idempotent and cheap when nothing changed: `kcat` is only installed when
//! it is not on `PATH`, and pip only runs when the package list differs from the one
//! recorded in the venv's marker file.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Python packages for the conformance venv. Changing this list makes the next run reinstall.
pub const PYTHON_PACKAGES: &[&str] = &[
    "kafka-python",
    "confluent-kafka",
    "cramjam",
    "lz4",
    "zstandard",
    "python-snappy",
    // kafka-python needs xxhash for LZ4 in magic-0 message sets.
    "xxhash",
];

/// Packages the conformance tests can do without, with the package that covers for each
/// (`cramjam` also implements Snappy, so a failed `python-snappy` build is not fatal).
const OPTIONAL_PACKAGES: &[(&str, &str)] = &[("python-snappy", "cramjam")];

/// Written inside the venv once its packages are installed; holds a hash of
/// [`PYTHON_PACKAGES`] so a changed list triggers a reinstall.
const MARKER_FILE: &str = ".kafka-sdk-packages";

/// External tools located for the test run; `None` where a tool is missing.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    /// The venv's Python interpreter.
    pub python: Option<PathBuf>,
    /// The `kcat` binary.
    pub kcat: Option<PathBuf>,
}

impl Tools {
    /// Finds what is already there without installing anything. Values already set in
    /// `KAFKA_SDK_PYTHON` / `KAFKA_SDK_KCAT` win, so a developer can point at their own.
    pub fn detect(root: &Path) -> Tools {
        let from_env = |var: &str| {
            env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let venv_python = venv_python(root);
        Tools {
            python: from_env("KAFKA_SDK_PYTHON")
                .or_else(|| venv_python.is_file().then_some(venv_python)),
            kcat: from_env("KAFKA_SDK_KCAT").or_else(|| find_on_path("kcat")),
        }
    }

    /// The environment variables through which tests find these tools.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut vars = Vec::new();
        if let Some(p) = &self.python {
            vars.push(("KAFKA_SDK_PYTHON", p.clone().into_os_string()));
        }
        if let Some(k) = &self.kcat {
            vars.push(("KAFKA_SDK_KCAT", k.clone().into_os_string()));
        }
        vars
    }
}

/// Installs `kcat` and the venv where missing, then reports what is installed.
pub fn ensure(root: &Path) -> Result<Tools, String> {
    let kcat = ensure_kcat()?;
    let python = ensure_venv(root)?;
    println!("kcat:   {} ({})", kcat.display(), kcat_version(&kcat));
    println!("python: {}", python.display());
    for line in installed_versions(&python)? {
        println!("  {line}");
    }
    Ok(Tools {
        python: Some(python),
        kcat: Some(kcat),
    })
}

/// Searches `PATH` for an executable, like `command -v`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn venv_dir(root: &Path) -> PathBuf {
    root.join(".venv")
}

fn venv_python(root: &Path) -> PathBuf {
    venv_dir(root).join("bin").join("python")
}

fn ensure_kcat() -> Result<PathBuf, String> {
    if let Some(kcat) = find_on_path("kcat") {
        println!("kcat already installed");
        return Ok(kcat);
    }
    apt_install(&["kcat"])?;
    find_on_path("kcat").ok_or_else(|| "apt-get installed kcat but it is not on PATH".to_string())
}

/// `apt-get install -y` as root, through `sudo` otherwise. A failed `apt-get update` is only
/// a warning (a stale list may still hold the package); a failed install is an error.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let sudo = !is_root();
    let apt = |args: &[&str]| -> Result<(), String> {
        let mut cmd = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run_status(&mut cmd)
    };
    println!(
        "installing {} with apt-get{}",
        packages.join(" "),
        if sudo { " (via sudo)" } else { "" }
    );
    if let Err(e) = apt(&["update"]) {
        println!("warning: apt-get update failed ({e}); trying the install anyway");
    }
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt(&args).map_err(|e| {
        format!(
            "could not install {} with apt-get ({e}); the conformance tests need it. \
             Install it by hand, or rerun with --no-install to skip those tests",
            packages.join(" ")
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ensure_venv(root: &Path) -> Result<PathBuf, String> {
    let python = venv_python(root);
    if !python.is_file() {
        create_venv(root)?;
    }
    let marker = venv_dir(root).join(MARKER_FILE);
    let wanted = marker_contents();
    if fs::read_to_string(&marker).is_ok_and(|have| have == wanted) {
        println!("venv packages up to date ({})", venv_dir(root).display());
        return Ok(python);
    }
    pip_install(&python)?;
    fs::write(&marker, wanted).map_err(|e| format!("writing {}: {e}", marker.display()))?;
    Ok(python)
}

fn create_venv(root: &Path) -> Result<(), String> {
    let base = find_on_path("python3")
        .or_else(|| find_on_path("python"))
        .ok_or("no python3 on PATH; the conformance tests need Python 3.11+")?;
    let dir = venv_dir(root);
    println!("creating venv {} with {}", dir.display(), base.display());
    let create = || run_status(Command::new(&base).arg("-m").arg("venv").arg(&dir));
    if create().is_ok() {
        return Ok(());
    }
    // Debian's own python3 ships the venv module separately.
    println!("warning: python3 -m venv failed; installing python3-venv and retrying");
    let _ = fs::remove_dir_all(&dir);
    apt_install(&["python3-venv"])?;
    create().map_err(|e| format!("could not create the venv at {}: {e}", dir.display()))
}

/// Installs [`PYTHON_PACKAGES`] in one pip run; if that fails, package by package, so an
/// optional package that will not build cannot block the rest.
fn pip_install(python: &Path) -> Result<(), String> {
    let pip = || {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "pip", "install", "--disable-pip-version-check"]);
        cmd
    };
    println!("pip install {}", PYTHON_PACKAGES.join(" "));
    if run_status(pip().args(PYTHON_PACKAGES)).is_ok() {
        return Ok(());
    }
    println!("warning: installing all packages at once failed; trying them one by one");
    let mut failed = Vec::new();
    for &package in PYTHON_PACKAGES {
        if let Err(e) = run_status(pip().arg(package)) {
            failed.push((package, e));
        }
    }
    let installed = installed_versions(python).unwrap_or_default();
    let is_installed = |name: &str| {
        installed
            .iter()
            .any(|l| l.split("==").next().is_some_and(|n| same_package(n, name)))
    };
    let mut fatal = Vec::new();
    for (package, e) in failed {
        match OPTIONAL_PACKAGES.iter().find(|(p, _)| *p == package) {
            Some((_, cover)) if is_installed(cover) => {
                println!(
                    "warning: {package} failed to install ({e}); continuing because {cover} covers it"
                );
            }
            _ => fatal.push(format!("{package} ({e})")),
        }
    }
    if fatal.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "pip could not install {}; the conformance tests need them",
            fatal.join(", ")
        ))
    }
}

/// pip normalises names: case, `-`, `_` and `.` are interchangeable.
fn same_package(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    norm(a) == norm(b)
}

/// `name==version` for each of [`PYTHON_PACKAGES`] that is installed.
fn installed_versions(python: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "list",
            "--format=freeze",
            "--disable-pip-version-check",
        ])
        .output()
        .map_err(|e| format!("running pip list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let name = l.split("==").next().unwrap_or("");
            PYTHON_PACKAGES.iter().any(|p| same_package(p, name))
        })
        .map(str::to_string)
        .collect())
}

/// `kcat -V` prints a banner; keep the `Version 1.7.1 (... librdkafka 2.0.2 ...)` facts.
fn kcat_version(kcat: &Path) -> String {
    let out = Command::new(kcat).arg("-V").output().ok();
    let text = out.map(|o| {
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    });
    let after = |text: &str, word: &str| {
        let mut words = text.split_whitespace().skip_while(|w| *w != word);
        words.nth(1).map(str::to_string)
    };
    match text
        .as_deref()
        .and_then(|t| Some((after(t, "Version")?, after(t, "librdkafka"))))
    {
        Some((v, Some(rd))) => format!("kcat {v}, librdkafka {rd}"),
        Some((v, None)) => format!("kcat {v}"),
        None => "version unknown".to_string(),
    }
}

fn marker_contents() -> String {
    let list = PYTHON_PACKAGES.join("\n");
    format!("{:016x}\n{list}\n", fnv1a(list.as_bytes()))
}

/// FNV-1a: a tiny hash that, unlike `DefaultHasher`, is stable across Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs a command with inherited output; a spawn failure or non-zero exit becomes an error.
pub fn run_status(cmd: &mut Command) -> Result<(), String> {
    // Name the program by its file name: `$CARGO` is a long toolchain path.
    let program = Path::new(cmd.get_program());
    let name = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    let status = cmd
        .status()
        .map_err(|e| format!("could not run {name}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_stable() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn pip_names_normalise() {
        assert!(same_package("Python_Snappy", "python-snappy"));
        assert!(same_package("confluent-kafka", "confluent_kafka"));
        assert!(!same_package("lz4", "zstandard"));
    }

    #[test]
    fn optional_packages_are_in_the_list() {
        for (p, cover) in OPTIONAL_PACKAGES {
            assert!(PYTHON_PACKAGES.contains(p) && PYTHON_PACKAGES.contains(cover));
        }
    }
}
