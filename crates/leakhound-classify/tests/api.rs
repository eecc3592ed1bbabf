//! Library-level behaviour of the classifier: context, decoding, record merging, redaction.

use leakhound_classify::{Category, Classifier, Confidence, Decoding, Options};

const OPENAI_KEY: &str =
    "sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3BlbkFJq8Rt5Yu1Io3Pa7Sd9Fg2Hj4Kl6Zx";

fn classifier() -> Classifier {
    Classifier::builtin().expect("built-in rules compile")
}

#[test]
fn builtin_rules_pass_their_own_examples() {
    let failures = classifier().check_rules();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn field_name_raises_confidence_and_enables_field_rules() {
    let c = classifier();
    let chat = c.scan_value(
        "Can you draft an email to my landlord about the broken heater?".as_bytes(),
        Some("log_stream.prompt"),
    );
    assert_eq!(chat.len(), 1, "{chat:#?}");
    assert_eq!(chat[0].category, Category::Chat);
    assert_eq!(&*chat[0].kind, "chat.field-text");
    // The same text under an unrelated column is not a transcript.
    assert!(c
        .scan_value(
            "Can you draft an email to my landlord about the broken heater?".as_bytes(),
            Some("created_at")
        )
        .is_empty());
    let phone = c.scan_value(b"13912345678", Some("users.mobile"));
    assert_eq!(phone.len(), 1);
    assert_eq!(phone[0].category, Category::Pii);
    assert_eq!(phone[0].confidence, Confidence::High);
    assert!(c.scan_value(b"13912345678", None).is_empty());
}

#[test]
fn nested_json_strings_are_decoded_and_mapped_to_the_outer_string() {
    let c = classifier();
    let inner =
        serde_json::json!({"messages": [{"role": "user", "content": "hi"}], "auth": OPENAI_KEY});
    let outer = serde_json::json!({"level": "info", "body": inner.to_string()}).to_string();
    let found = c.scan(outer.as_bytes());
    let key = found
        .iter()
        .find(|m| &*m.rule == "lh.openai.project-key")
        .expect("key inside the escaped JSON");
    assert_eq!(&outer.as_bytes()[key.span.clone()], OPENAI_KEY.as_bytes());
    assert!(found.iter().any(|m| m.category == Category::Chat));
}

#[test]
fn base64_values_are_decoded_once() {
    use base64::Engine as _;
    let c = classifier();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("OPENAI={OPENAI_KEY}\n"));
    let found = c.scan_value(b64.as_bytes(), None);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].decoded, Some(Decoding::Base64));
    assert_eq!(found[0].span, 0..b64.len());
    // Base64 of base64 is not followed: one level only.
    let twice = base64::engine::general_purpose::STANDARD.encode(&b64);
    assert!(c.scan_value(twice.as_bytes(), None).is_empty());
}

#[test]
fn a_transcript_value_is_one_match_whatever_its_shapes() {
    let c = classifier();
    let v = r#"{"messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}],"prompt":"x","completion":"y"}"#;
    let found = c.scan_value(v.as_bytes(), Some("payload"));
    let chats: Vec<_> = found
        .iter()
        .filter(|m| m.category == Category::Chat)
        .collect();
    assert_eq!(chats.len(), 1, "{chats:#?}");
    assert_eq!(&*chats[0].kind, "chat.messages-json");
    assert_eq!(chats[0].span.len(), chats[0].length);
}

#[test]
fn a_stack_trace_is_one_match() {
    let c = classifier();
    let t = "java.lang.IllegalStateException: boom\n\tat com.acme.A.f(A.java:1)\n\tat com.acme.B.g(B.java:2)\n\tat com.acme.C.h(C.java:3)\n";
    let found: Vec<_> = c
        .scan(t.as_bytes())
        .into_iter()
        .filter(|m| &*m.kind == "ops.stack-trace")
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn evidence_never_holds_the_value_unless_revealed() {
    let text = format!("key={OPENAI_KEY} card 4111 1111 1111 1111 mail jane.roe@mailbox.org");
    for m in classifier().scan(text.as_bytes()) {
        assert!(m.value.is_none());
        assert!(!m.evidence.contains(OPENAI_KEY));
        assert!(!m.evidence.contains("4111 1111 1111 1111"));
        assert!(!m.evidence.contains("jane.roe"));
    }
    let revealing = Classifier::new(
        Vec::new(),
        Options {
            reveal: true,
            decode: true,
        },
    )
    .unwrap();
    let m = revealing.scan(text.as_bytes());
    assert!(m.iter().any(|m| m.value.as_deref() == Some(OPENAI_KEY)));
}

#[test]
fn validators_reject_lookalikes() {
    let c = classifier();
    for text in [
        "card 4111 1111 1111 1112",
        "IBAN DE89 3704 0044 0532 0130 01",
        "SSN 666-12-3456",
        "id 110105194912310021",
        "addr 172.32.0.1",
    ] {
        let found: Vec<_> = c
            .scan(text.as_bytes())
            .into_iter()
            .filter(|m| m.category != Category::Ops || text.starts_with("addr"))
            .collect();
        assert!(found.is_empty(), "{text}: {found:#?}");
    }
}
