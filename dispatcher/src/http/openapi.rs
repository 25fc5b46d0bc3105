//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{incidents, intake, meta, units};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Badung 112 dispatcher", description = "Intake, classification, dispatch and live feed for Kabupaten Badung's emergency centre. The live feed is a websocket at /ws (see docs/protocol.md)."),
    paths(
        meta::healthz, meta::openapi_json, meta::me, meta::ui_config,
        intake::call_event, intake::list_calls, intake::create_report, intake::classify, intake::gazetteer,
        intake::sms_inbound, intake::aml_sms, intake::aml_https,
        incidents::list, incidents::detail, incidents::correct, incidents::transition,
        incidents::recommendation, incidents::dispatch, incidents::duplicates, incidents::merge, incidents::unlink,
        units::register, units::list, units::one, units::position, units::status,
    ),
    components(schemas(incident_types::Event, incident_types::EventRecord, incident_types::feed::ClientMessage, incident_types::feed::ServerMessage)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn document_matches_the_routes() {
        let doc = super::document();
        let mut documented = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let methods = [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("patch", item.patch.is_some()),
                ("put", item.put.is_some()),
                ("delete", item.delete.is_some()),
            ];
            for (m, present) in methods {
                if present {
                    documented.insert((m.to_owned(), path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = crate::http::api_routes()
            .into_iter()
            .map(|(m, p, _)| (m.to_owned(), p.to_owned()))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented paths that are not routed: {unrouted:?}"
        );
    }
}
