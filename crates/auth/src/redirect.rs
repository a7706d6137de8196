//! Where to send a browser after sign-in: only to a path on this server.

/// The `next` target if it is a path on this server, else `/`. Refuses
/// absolute URLs, scheme-relative `//host` and `/\host` (browsers treat a
/// backslash as a slash), and anything with control characters.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control()) =>
        {
            path
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/runs/4?tab=events")), "/runs/4?tab=events");
        assert_eq!(safe_next(Some("/")), "/");
        for hostile in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/ok\r\nSet-Cookie: a=b",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
