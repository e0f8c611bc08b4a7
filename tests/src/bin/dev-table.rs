//! `dev-table`: creates the DynamoDB table of `template.yaml` for local runs (`make dev`).
//!
//! Reads the `Table` resource from the template (the one definition of the table), so the local table
//! is the deployed one. Talks to whatever `AWS_ENDPOINT_URL_DYNAMODB` points at. An existing table is
//! left as it is.

use clap::Parser;
use std::process::ExitCode;
use wxcomponent_tests::schema::TableDefinition;

#[derive(Parser)]
#[command(
    name = "dev-table",
    about = "Create the table of template.yaml in DynamoDB Local"
)]
struct Cli {
    /// Name of the table to create.
    #[arg(long, env = "TABLE_NAME")]
    name: String,
    /// The SAM template to read the table from.
    #[arg(long, default_value = "template.yaml")]
    template: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let template = match std::fs::read_to_string(&cli.template) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dev-table: cannot read {}: {e}", cli.template.display());
            return ExitCode::FAILURE;
        }
    };
    let definition = match TableDefinition::from_template(&template) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("dev-table: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = wxcomponent::tls::sdk_config(None).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    match definition.ensure_table(&client, &cli.name).await {
        Ok(true) => println!("created table {}", cli.name),
        Ok(false) => println!("table {} already exists", cli.name),
        Err(e) => {
            eprintln!("dev-table: {}", wxcomponent::logging::error_chain(&e));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
