//! Middleware: error bodies are built as JSON OperationOutcomes (an error has no access to the
//! request); this turns them into XML when the client asked for XML.

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpResponse;

use super::negotiate::response_format;
use super::query::QueryParams;
use crate::fhir::format::{json_bytes_to_xml, Format};

pub async fn errors_in_requested_format(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let q = QueryParams::from_request(req.request());
    let xml = matches!(response_format(req.request(), &q), Ok(f) if f.format == Format::Xml);
    let res = next.call(req).await?;
    let is_json_error = res.status().as_u16() >= 400
        && res
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/fhir+json"));
    if !xml || !is_json_error {
        return Ok(res.map_into_boxed_body());
    }
    let (http_req, res) = res.into_parts();
    let status = res.status();
    let body = match to_bytes(res.into_body()).await {
        Ok(b) => b,
        Err(_) => {
            return Ok(ServiceResponse::new(
                http_req,
                HttpResponse::build(status).finish(),
            ))
        }
    };
    let new = match json_bytes_to_xml(&body) {
        Ok(xml) => HttpResponse::build(status)
            .content_type(Format::Xml.content_type())
            .body(xml),
        Err(_) => HttpResponse::build(status)
            .content_type(Format::Json.content_type())
            .body(body),
    };
    Ok(ServiceResponse::new(http_req, new))
}
