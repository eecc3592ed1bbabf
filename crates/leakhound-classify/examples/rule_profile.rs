//! Prints the most expensive keyed rules on the files given: `cargo run --release
//! --example rule_profile -- FILE...`. A tuning aid, not part of the product.

use std::collections::HashMap;

fn main() {
    let c = leakhound_classify::Classifier::builtin().expect("rules compile");
    let mut total: HashMap<String, (u64, u64, u128)> = HashMap::new();
    let (mut ac, mut set, mut hits, mut full, mut bytes, mut engine) =
        (0u128, 0u128, 0usize, 0u128, 0usize, 0u128);
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("readable file");
        for chunk in data.chunks(1 << 20) {
            let (a, b, h, e) = c.profile_stages(chunk);
            engine += e;
            ac += a;
            set += b;
            hits += h;
            bytes += chunk.len();
            let t = std::time::Instant::now();
            let _ = c.scan(chunk);
            full += t.elapsed().as_nanos();
            for (id, w, b, t) in c.profile_rules(chunk) {
                let e = total.entry(id).or_default();
                e.0 += w;
                e.1 += b;
                e.2 += t;
            }
        }
    }
    println!(
        "{bytes} bytes: full scan {:.0} ms, engine {:.0} ms, keyword automaton {:.0} ms ({hits} hits), always-on set {:.0} ms",
        full as f64 / 1e6,
        engine as f64 / 1e6,
        ac as f64 / 1e6,
        set as f64 / 1e6
    );
    let mut v: Vec<_> = total.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1 .2));
    let sum: u128 = v.iter().map(|e| e.1 .2).sum();
    println!("keyed rules in total: {:.0} ms", sum as f64 / 1e6);
    for (id, (w, b, t)) in v.into_iter().take(30) {
        println!(
            "{:>8.1} ms {:>9} windows {:>12} bytes  {id}",
            t as f64 / 1e6,
            w,
            b
        );
    }
}
