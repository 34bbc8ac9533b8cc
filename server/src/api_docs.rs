//! The browsable API docs at `/api/docs`: the OpenAPI document rendered to one HTML page on the
//! server (askama), with nothing loaded from elsewhere, so it works on a closed network.

use askama::Template;
use serde_json::Value;

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage {
    title: String,
    version: String,
    description: String,
    tags: Vec<TagSection>,
    schemas: Vec<SchemaDoc>,
}

struct TagSection {
    name: String,
    description: String,
    operations: Vec<Operation>,
}

struct Operation {
    id: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<Parameter>,
    request_body: Option<String>,
    responses: Vec<ResponseDoc>,
}

struct Parameter {
    name: String,
    location: String,
    required: bool,
    schema: String,
    description: String,
}

struct ResponseDoc {
    status: String,
    description: String,
    schema: Option<String>,
}

struct SchemaDoc {
    name: String,
    json: String,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A short type label: `Service`, `array of Deployment`, `string (date-time)`.
fn type_label(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        return one
            .iter()
            .map(type_label)
            .filter(|t| t != "null")
            .collect::<Vec<_>>()
            .join(" or ");
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    };
    if ty == "array"
        && let Some(items) = schema.get("items")
    {
        return format!("array of {}", type_label(items));
    }
    match schema.get("format").and_then(Value::as_str) {
        Some(f) => format!("{ty} ({f})"),
        None => ty,
    }
}

fn content_schema(v: &Value) -> Option<String> {
    v.get("content")?
        .get("application/json")?
        .get("schema")
        .map(type_label)
}

pub fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let info = &doc["info"];
    let mut tags: Vec<TagSection> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TagSection {
            name: text(t, "name"),
            description: text(t, "description"),
            operations: vec![],
        })
        .collect();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let tag = op["tags"]
                    .get(0)
                    .and_then(Value::as_str)
                    .unwrap_or("other")
                    .to_string();
                let operation = Operation {
                    id: text(op, "operationId"),
                    method: method.to_string(),
                    path: path.clone(),
                    summary: text(op, "summary"),
                    description: text(op, "description"),
                    parameters: op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| Parameter {
                            name: text(p, "name"),
                            location: text(p, "in"),
                            required: p["required"].as_bool().unwrap_or(false),
                            schema: type_label(&p["schema"]),
                            description: text(p, "description"),
                        })
                        .collect(),
                    request_body: op.get("requestBody").and_then(content_schema),
                    responses: op["responses"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(status, r)| ResponseDoc {
                            status: status.clone(),
                            description: text(r, "description"),
                            schema: content_schema(r),
                        })
                        .collect(),
                };
                match tags.iter_mut().find(|t| t.name == tag) {
                    Some(t) => t.operations.push(operation),
                    None => tags.push(TagSection {
                        name: tag,
                        description: String::new(),
                        operations: vec![operation],
                    }),
                }
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| SchemaDoc {
            name: name.clone(),
            json: serde_json::to_string_pretty(s).unwrap_or_default(),
        })
        .collect();
    let page = ApiDocsPage {
        title: text(info, "title"),
        version: text(info, "version"),
        description: text(info, "description"),
        tags,
        schemas,
    };
    page.render()
        .unwrap_or_else(|e| format!("the API docs could not be rendered: {e}"))
}
