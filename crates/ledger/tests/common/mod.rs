//! Helpers shared by the ledger's integration tests.
#![allow(dead_code)]

/// splitmix64: small, seedable, good enough to pick shapes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, min: u64, max: u64) -> Vec<u8> {
        (0..min + self.below(max - min + 1))
            .map(|_| self.next() as u8)
            .collect()
    }
}
