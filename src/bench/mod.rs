//! `carebridge bench`: placeholder until the load generator lands.

#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> Result<(), String> {
    Err("bench is not implemented yet".into())
}
