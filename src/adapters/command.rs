//! `carebridge import`: one batch from disk through an adapter into the database, with a
//! progress bar while it works and the report when it is done.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use super::{adapter, Importer, SourceAdapter, SourceBatch, Step};
use crate::profile::Policy;
use crate::server::DEFAULT_DATABASE;
use crate::store::Store;

/// The base resources are written under when no server names one; references stored are
/// relative, so it only shapes messages.
pub const DEFAULT_BASE: &str = "http://127.0.0.1:8080/fhir";

/// What every import command names: the adapter, its configuration, the database and
/// whether one rejected row refuses the batch.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// emis, rio or vcse.
    #[arg(long)]
    pub adapter: String,
    #[arg(long, env = "CAREBRIDGE_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database: String,
    /// The adapter's configuration file (JSON); each adapter has a built-in default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Refuse the whole batch if any row is rejected.
    #[arg(long)]
    pub strict: bool,
}

impl Target {
    pub fn open(&self) -> Result<(Box<dyn SourceAdapter>, Store), String> {
        let adapter = adapter(&self.adapter, self.config.as_deref())?;
        Ok((adapter, open_store(&self.database, 2)?))
    }
}

/// The database, with the custom search parameters stored in it put in force: a command
/// that imports runs in a process of its own, and what it writes is indexed under them as
/// the server would index it (which loads them when it starts).
pub fn open_store(database: &str, pool: u32) -> Result<Store, String> {
    let store = Store::open(database, Some(pool)).map_err(|e| e.to_string())?;
    crate::search::load_custom_parameters(&store).map_err(|e| e.to_string())?;
    Ok(store)
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: Target,
    /// A folder of extract files, a .zip of them, or one JSON file.
    pub path: PathBuf,
}

/// A bar on standard error that follows an import's steps; it draws nothing when standard
/// error is not a terminal.
fn progress_bar() -> (ProgressBar, impl Fn(Step)) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>20} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let b = bar.clone();
    let update = move |s: Step| {
        b.set_message(s.stage);
        b.set_length(s.total);
        b.set_position(s.done);
    };
    (bar, update)
}

pub fn run_import(args: ImportArgs) -> Result<(), String> {
    let (adapter, store) = args.target.open()?;
    let batch =
        SourceBatch::from_path(&args.path).map_err(|e| format!("the batch was refused: {e}"))?;
    import_and_report(&store, adapter.as_ref(), &batch, args.target.strict)
}

/// Imports a batch with a progress bar and prints the report (also when a strict import
/// refused the batch for its rejected rows).
pub fn import_and_report(
    store: &Store,
    adapter: &dyn SourceAdapter,
    batch: &SourceBatch,
    strict: bool,
) -> Result<(), String> {
    let (bar, update) = progress_bar();
    let policy = Policy::default();
    let importer = Importer {
        store,
        base: DEFAULT_BASE,
        policy: &policy,
        strict,
    };
    let result = importer.import(adapter, batch, &update);
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            print!("{}", report.text());
            Ok(())
        }
        Err(super::ImportError::Strict(report)) => {
            print!("{}", report.text());
            Err("the batch was refused: a strict import takes all rows or none".into())
        }
        Err(e) => Err(e.to_string()),
    }
}
