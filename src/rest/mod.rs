//! The FHIR RESTful API (hl7.org/fhir/R4/http.html) over actix-web: the route table, and one
//! file per interaction. A handler parses the request, makes one call into `interaction` or
//! `store` on the blocking pool, and renders the result; it never builds SQL.

mod body;
mod bundle;
mod capabilities;
mod create;
mod delete;
mod error;
mod error_format;
mod everything;
mod history;
mod ingest;
mod negotiate;
mod patch;
mod query;
mod read;
mod respond;
mod search;
pub mod transaction;
mod update;
mod validate;

use actix_web::web;

pub use capabilities::capability_statement;
pub use error::RestError;
pub use error_format::errors_in_requested_format;
pub use negotiate::{Prefer, Return};

use crate::fhir::{ResourceId, ResourceType};
use crate::store::Store;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    /// The FHIR base URL as clients see it, e.g. `http://127.0.0.1:8080/fhir`.
    pub base_url: String,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Largest `$ingest` body, in bytes.
    pub ingest_limit: usize,
    /// The profiles create and update enforce.
    pub profiles: crate::profile::Policy,
    /// Adapter name → its configuration file, for `$ingest`.
    pub adapter_configs: std::collections::HashMap<String, std::path::PathBuf>,
}

/// The route table: every interaction the server offers, under the FHIR base `/fhir`.
/// capability-statement.json declares the same set; a test holds the two together.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/fhir")
            .service(
                web::resource(["", "/"])
                    .route(web::get().to(search::search_system))
                    .route(web::post().to(transaction::post))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/metadata")
                    .route(web::get().to(capabilities::metadata))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/$ingest")
                    .route(web::post().to(ingest::post))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/_history")
                    .route(web::get().to(history::system))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/$everything")
                    .route(web::get().to(everything::type_level))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/$validate")
                    .route(web::post().to(validate::type_level))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}/$validate")
                    .route(web::get().to(validate::instance))
                    .route(web::post().to(validate::instance))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}/$everything")
                    .route(web::get().to(everything::instance))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}")
                    .route(web::get().to(search::search_get))
                    .route(web::post().to(create::create))
                    .route(web::put().to(update::conditional_update))
                    .route(web::delete().to(delete::conditional_delete))
                    .route(web::patch().to(patch::conditional_patch))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/_search")
                    .route(web::post().to(search::search_post))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/_history")
                    .route(web::get().to(history::type_level))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}")
                    .route(web::get().to(read::read))
                    .route(web::head().to(read::read))
                    .route(web::put().to(update::update))
                    .route(web::delete().to(delete::delete))
                    .route(web::patch().to(patch::patch))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}/_history")
                    .route(web::get().to(history::instance))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}/{compartment_type}")
                    .route(web::get().to(search::compartment))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/{type}/{id}/_history/{vid}")
                    .route(web::get().to(read::vread))
                    .route(web::head().to(read::vread))
                    .default_service(web::to(method_not_allowed)),
            ),
    )
    .default_service(web::to(not_found));
}

async fn method_not_allowed(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, RestError> {
    Err(RestError::MethodNotAllowed(req.method().to_string()))
}

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, RestError> {
    Err(RestError::NotFound(format!(
        "nothing is served at {}",
        req.path()
    )))
}

/// Checks the type named in a URL.
fn resource_type(name: &str) -> Result<ResourceType, RestError> {
    ResourceType::parse(name).ok_or_else(|| RestError::UnknownType(name.to_string()))
}

/// Checks the type and id named in a URL.
fn address(type_name: &str, id: &str) -> Result<(ResourceType, ResourceId), RestError> {
    let rt = resource_type(type_name)?;
    let id = ResourceId::parse(id).ok_or_else(|| {
        RestError::BadValue(
            crate::fhir::Issue::error(
                crate::fhir::IssueType::Value,
                format!("'{id}' is not a valid resource id ([A-Za-z0-9-.]{{1,64}})"),
            )
            .at("id"),
        )
    })?;
    Ok((rt, id))
}

/// Runs storage work on the blocking pool.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, RestError> + Send + 'static,
) -> Result<R, RestError> {
    web::block(f).await?
}
