//! Precision and recall on the labelled evaluation set (`tests/data/eval`, written by
//! `scripts/eval/gen_eval.py`): each sample is one snippet labelled positive or negative;
//! a prediction is positive when the classifier reports the category anywhere in it.

use leakhound_classify::{Category, Classifier};

struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
    misses: Vec<String>,
}

fn score(file: &str, category: Category, positive_label: &str) -> Score {
    let c = Classifier::builtin().unwrap();
    let path = format!("{}/tests/data/eval/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut s = Score {
        tp: 0,
        fp: 0,
        fn_: 0,
        tn: 0,
        misses: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let sample = v["text"].as_str().unwrap();
        let expected = v["label"] == positive_label;
        let got = c
            .scan(sample.as_bytes())
            .iter()
            .any(|m| m.category == category);
        match (expected, got) {
            (true, true) => s.tp += 1,
            (false, false) => s.tn += 1,
            (true, false) => {
                s.fn_ += 1;
                s.misses.push(format!("missed {} ({})", v["id"], v["kind"]));
            }
            (false, true) => {
                s.fp += 1;
                s.misses
                    .push(format!("false positive {} ({})", v["id"], v["kind"]));
            }
        }
    }
    s
}

fn assert_quality(s: &Score, what: &str) {
    let precision = s.tp as f64 / (s.tp + s.fp).max(1) as f64;
    let recall = s.tp as f64 / (s.tp + s.fn_).max(1) as f64;
    eprintln!(
        "{what}: tp={} fp={} fn={} tn={} precision={precision:.4} recall={recall:.4}",
        s.tp, s.fp, s.fn_, s.tn
    );
    assert!(s.tp + s.fn_ >= 100, "{what}: too few positives to measure");
    assert!(s.fp + s.tn >= 100, "{what}: too few negatives to measure");
    assert!(
        precision >= 0.98 && recall >= 0.98,
        "{what}: precision {precision:.4}, recall {recall:.4}\n{}",
        s.misses.join("\n")
    );
}

#[test]
fn secret_precision_and_recall_are_at_least_098() {
    assert_quality(
        &score("secrets.jsonl", Category::Secret, "secret"),
        "secrets",
    );
}

#[test]
fn pii_precision_and_recall_are_at_least_098() {
    assert_quality(&score("pii.jsonl", Category::Pii, "pii"), "pii");
}
