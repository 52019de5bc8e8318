//! The query string in order, repeats kept (`date=ge2020&date=le2021` is an AND; a
//! deserialiser into a struct would lose that).

use actix_web::HttpRequest;

#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    pub fn from_request(req: &HttpRequest) -> QueryParams {
        QueryParams::parse(req.query_string().as_bytes())
    }

    pub fn parse(raw: &[u8]) -> QueryParams {
        QueryParams(
            form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of a parameter (format parameters are single-valued).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// The search criteria of a conditional interaction: every parameter but the format ones.
pub fn criteria(q: &QueryParams) -> Vec<(String, String)> {
    q.pairs()
        .iter()
        .filter(|(k, _)| k != "_format" && k != "_pretty")
        .cloned()
        .collect()
}

/// Encodes parameters for a link.
pub fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}
