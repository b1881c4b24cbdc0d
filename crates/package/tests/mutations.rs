//! Bad input never panics: every file of the base package mutated many ways (bytes flipped,
//! cut, YAML/HCL punctuation inserted) still validates to diagnostics, never to the
//! `package/internal-error` of the panic boundary. Deterministic (a fixed xorshift seed); the
//! cargo-fuzz target `package_reader` explores further.

mod common;

use vitrina_package::codes;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const PIECES: &[&[u8]] = &[
    b":", b": ", b"- ", b"[", b"]", b"{", b"}", b"\"", b"'", b"\n", b"  ", b"&a ", b"*a",
    b"!!str ", b"${", b"}", b"#", b"\t", b"\xff", b"\xd0", b".", b"null", b"true", b"-1", b"1e999",
    b"\x00",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 => {
                let piece = PIECES[rng.below(PIECES.len())];
                v.splice(at..at, piece.iter().copied());
            }
            1 => v.truncate(at),
            2 => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            _ => {
                if let Some(b) = v.get_mut(at) {
                    *b = (rng.next() & 0xff) as u8;
                }
            }
        }
    }
    v
}

#[test]
fn mutated_files_never_panic() {
    let base = common::build(&[]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0;
    for (path, bytes) in &base.texts {
        if path.ends_with(".png") {
            continue;
        }
        for _ in 0..25 {
            let mut files = base.files.clone();
            files.add(path, mutate(&mut rng, bytes));
            let v = vitrina_package::validate(&files);
            runs += 1;
            assert!(
                !v.diagnostics
                    .iter()
                    .any(|d| d.code == codes::PACKAGE_INTERNAL_ERROR),
                "validator panicked on a mutation of {path}"
            );
            // Rendering and JSON never panic either.
            let _ = v.sources.render_text(&v.diagnostics, "");
            let _ = v.sources.to_json(&v.diagnostics);
            if let Some(c) = vitrina_package::build_catalog(&v) {
                let _ = vitrina_package::catalog::to_osb(&c);
            }
        }
    }
    assert!(runs > 300, "{runs}");
}
