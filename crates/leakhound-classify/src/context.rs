//! Field-name context: a value under `api_key` or `prompt` is more likely what it looks like.

use crate::Match;
use leakhound_model::Category;

fn normalise(field: &str) -> String {
    // Use the last path segment: `request.headers.authorization` -> `authorization`.
    let last = field
        .rsplit(['.', '/', '[', ']'])
        .find(|s| !s.is_empty())
        .unwrap_or(field);
    last.to_ascii_lowercase().replace('-', "_")
}

fn any_word(field: &str, words: &[&str]) -> bool {
    words.iter().any(|w| {
        field == *w
            || field.starts_with(&format!("{w}_"))
            || field.ends_with(&format!("_{w}"))
            || field.contains(&format!("_{w}_"))
    })
}

fn category_of(field: &str) -> Option<Category> {
    let f = normalise(field);
    const SECRET: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "key",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "private_key",
        "access_key",
        "secret_key",
        "client_secret",
        "bearer",
        "dsn",
        "connection_string",
    ];
    const CHAT: &[&str] = &[
        "prompt",
        "prompts",
        "completion",
        "messages",
        "message",
        "content",
        "response",
        "question",
        "answer",
        "conversation",
        "chat",
        "history",
        "query",
        "input",
        "output",
    ];
    const PII: &[&str] = &[
        "email", "mail", "phone", "mobile", "tel", "ssn", "card", "iban", "passport", "id_card",
        "idcard", "address",
    ];
    if any_word(&f, SECRET) && !f.ends_with("_count") && !f.ends_with("_tokens") {
        Some(Category::Secret)
    } else if any_word(&f, CHAT) {
        Some(Category::Chat)
    } else if any_word(&f, PII) {
        Some(Category::Pii)
    } else {
        None
    }
}

/// Raises the confidence of matches whose category the field name points at.
pub(crate) fn adjust(field: &str, out: &mut [Match]) {
    if let Some(cat) = category_of(field) {
        for m in out.iter_mut().filter(|m| m.category == cat) {
            m.confidence = m.confidence.raised();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_map_to_categories() {
        assert_eq!(category_of("api_key"), Some(Category::Secret));
        assert_eq!(category_of("user.password"), Some(Category::Secret));
        assert_eq!(category_of("access_tokens"), None);
        assert_eq!(category_of("messages"), Some(Category::Chat));
        assert_eq!(category_of("customer_email"), Some(Category::Pii));
        assert_eq!(category_of("created_at"), None);
    }
}
