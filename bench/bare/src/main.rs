//! `bare-handler --artifact DIR --bind ADDR`: the ceiling Ferry's serving path is measured
//! against (bench/serve.sh). It serves the logistic regression in the Ferry artifact
//! `DIR` (its standard scaling and its coefficients, read once at start) on two routes,
//! and does only what each takes:
//!
//! - `POST /models/iris/predict`: parse the JSON record (or `{"records": [...]}`) into a
//!   struct, scale, compute the softmax, and write the same response body serve writes,
//!   with a request id;
//! - `POST /v2/models/iris/infer`: parse a KServe V2 request of one FP64 tensor per
//!   feature into borrowed structs, the same softmax, and write the same V2 body serve
//!   writes (`predict` and `predict_proba`), with a request id header.
//!
//! No validation beyond what serde does, no registry, no middleware.

use std::collections::BTreeMap;
use std::path::PathBuf;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Iris {
    sepal_length: f64,
    sepal_width: f64,
    petal_length: f64,
    petal_width: f64,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Body {
    Batch { records: Vec<Iris> },
    One(Iris),
}

/// The scaled logistic regression of an iris artifact.
#[derive(Debug)]
struct Model {
    mean: [f64; 4],
    scale: [f64; 4],
    /// Row-major classes x 4.
    weights: Vec<f64>,
    intercepts: Vec<f64>,
    classes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Prediction<'a> {
    label: &'a str,
    probabilities: BTreeMap<&'a str, f64>,
}

#[derive(Debug, Serialize)]
struct Response<'a> {
    request_id: String,
    model: &'static str,
    model_version: u64,
    api_version: &'static str,
    predictions: Vec<Prediction<'a>>,
}

#[derive(Debug, Deserialize)]
struct V2Request<'a> {
    #[serde(borrow)]
    inputs: Vec<V2Input<'a>>,
}

#[derive(Debug, Deserialize)]
struct V2Input<'a> {
    name: &'a str,
    #[expect(
        dead_code,
        reason = "read as serve reads it; the data's length gives the rows"
    )]
    shape: Vec<i64>,
    #[expect(dead_code, reason = "FP64 is assumed")]
    datatype: &'a str,
    data: Vec<f64>,
}

#[derive(Debug, Serialize)]
struct V2Output<'a> {
    name: &'static str,
    datatype: &'static str,
    shape: Vec<usize>,
    data: V2Data<'a>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum V2Data<'a> {
    Labels(Vec<&'a str>),
    Numbers(Vec<f64>),
}

#[derive(Debug, Serialize)]
struct V2Response<'a> {
    model_name: &'static str,
    model_version: &'static str,
    outputs: Vec<V2Output<'a>>,
}

const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

impl Model {
    fn load(dir: &std::path::Path) -> Result<Self, String> {
        let read = |name: &str| -> Result<serde_json::Value, String> {
            let path = dir.join(name);
            let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let model = read("model.json")?;
        let pre = read("preprocessor.json")?;
        let floats = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default()
        };
        let mut mean = [0.0; 4];
        let mut scale = [1.0; 4];
        for step in pre["steps"].as_array().into_iter().flatten() {
            if let Some(i) = FEATURES.iter().position(|n| step["column"] == *n) {
                mean[i] = step["mean"].as_f64().unwrap_or(0.0);
                scale[i] = step["scale"].as_f64().unwrap_or(1.0);
            }
        }
        let classes: Vec<String> = model["classes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let weights = floats(&model["weights"]);
        let intercepts = floats(&model["intercepts"]);
        if classes.len() < 3
            || weights.len() != classes.len() * 4
            || intercepts.len() != classes.len()
        {
            return Err(format!(
                "{} is not a 3-class iris logistic regression",
                dir.display()
            ));
        }
        Ok(Self {
            mean,
            scale,
            weights,
            intercepts,
            classes,
        })
    }

    fn predict(&self, x: &Iris) -> Prediction<'_> {
        let (best, p) =
            self.softmax([x.sepal_length, x.sepal_width, x.petal_length, x.petal_width]);
        Prediction {
            label: &self.classes[best],
            probabilities: self.classes.iter().map(String::as_str).zip(p).collect(),
        }
    }

    /// The most likely class and every class's probability.
    fn softmax(&self, raw: [f64; 4]) -> (usize, Vec<f64>) {
        let mut z: Vec<f64> = self.intercepts.clone();
        for (c, zc) in z.iter_mut().enumerate() {
            for (j, v) in raw.iter().enumerate() {
                let w = self.weights.get(c * 4 + j).copied().unwrap_or(0.0);
                *zc += w * (v - self.mean[j]) / self.scale[j];
            }
        }
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
        let mut best = 0;
        let mut probabilities = Vec::with_capacity(z.len());
        for (c, v) in z.iter().enumerate() {
            if *v > z[best] {
                best = c;
            }
            probabilities.push((v - max).exp() / sum);
        }
        (best, probabilities)
    }
}

async fn predict(model: web::Data<Model>, body: web::Json<Body>) -> HttpResponse {
    let records = match body.into_inner() {
        Body::Batch { records } => records,
        Body::One(x) => vec![x],
    };
    HttpResponse::Ok().json(Response {
        request_id: uuid::Uuid::new_v4().to_string(),
        model: "iris",
        model_version: 1,
        api_version: "v1",
        predictions: records.iter().map(|x| model.predict(x)).collect(),
    })
}

async fn infer(model: web::Data<Model>, body: web::Bytes) -> HttpResponse {
    let request: V2Request<'_> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return HttpResponse::BadRequest().json(serde_json::json!({"error": e.to_string()}));
        }
    };
    let mut columns: [&[f64]; 4] = [&[]; 4];
    for input in &request.inputs {
        if let Some(j) = FEATURES.iter().position(|f| *f == input.name) {
            columns[j] = &input.data;
        }
    }
    let rows = columns.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut labels = Vec::with_capacity(rows);
    let mut probabilities = Vec::with_capacity(rows * model.classes.len());
    for r in 0..rows {
        let (best, p) = model.softmax(std::array::from_fn(|j| {
            columns[j].get(r).copied().unwrap_or(f64::NAN)
        }));
        labels.push(model.classes[best].as_str());
        probabilities.extend(p);
    }
    HttpResponse::Ok()
        .insert_header(("x-request-id", uuid::Uuid::new_v4().to_string()))
        .json(V2Response {
            model_name: "iris",
            model_version: "1",
            outputs: vec![
                V2Output {
                    name: "predict",
                    datatype: "BYTES",
                    shape: vec![rows],
                    data: V2Data::Labels(labels),
                },
                V2Output {
                    name: "predict_proba",
                    datatype: "FP64",
                    shape: vec![rows, model.classes.len()],
                    data: V2Data::Numbers(probabilities),
                },
            ],
        })
}

fn main() -> std::io::Result<()> {
    let mut artifact = None;
    let mut bind = "127.0.0.1:0".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--artifact" => artifact = args.next().map(PathBuf::from),
            "--bind" => bind = args.next().unwrap_or(bind),
            other => {
                eprintln!("usage: bare-handler --artifact DIR [--bind ADDR] (unknown {other:?})");
                std::process::exit(2);
            }
        }
    }
    let Some(artifact) = artifact else {
        eprintln!("usage: bare-handler --artifact DIR [--bind ADDR]");
        std::process::exit(2);
    };
    let model = match Model::load(&artifact) {
        Ok(m) => web::Data::new(m),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(model.clone())
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .app_data(web::PayloadConfig::default().limit(1 << 20))
                .route("/models/iris/predict", web::post().to(predict))
                .route("/v2/models/iris/infer", web::post().to(infer))
        })
        .bind(&bind)?;
        for addr in server.addrs() {
            println!("listening on http://{addr}");
        }
        server.run().await
    })
}
