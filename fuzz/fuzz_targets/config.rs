#![no_main]
//! The configuration loader: TOML, `${VAR}` interpolation, validation, path resolution.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name.len() % 2 == 0).then(|| format!("value-of-{name}"));
    let _ = mentiondesk::config::parse(text, &env, std::path::Path::new("/nonexistent/base"));
});
