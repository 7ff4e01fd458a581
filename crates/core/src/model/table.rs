//! The machinery behind the one table of algorithms in [`super::kinds`]: a declarative
//! macro that turns each row into a [`ModelKind`](super::ModelKind) variant with its
//! name and properties, a [`ModelSpec`](super::ModelSpec) variant (config parsing
//! included), a [`ValidModelSpec`](super::ValidModelSpec) variant and the fit and parity
//! dispatch; and each fitted type into a [`TrainedModel`](super::TrainedModel) variant
//! with its artifact encoding.
//!
//! A macro rather than a trait per algorithm because several algorithms share one
//! params type (SVC and SVR, lasso and elastic net) or one fitted type (a random forest
//! and extra trees regressor), and because the output is closed enums with exhaustive
//! matches, which serve's error tables and the artifact reader rely on. Nothing here
//! names an algorithm: every list is generated from the rows.

/// Generates the kind, spec, validated-spec and trained-model enums and their dispatch
/// from the table in `kinds.rs`. See that file for the meaning of each column.
macro_rules! model_table {
    (
        kinds {
            $(
                $(#[doc = $doc:literal])+
                $kind:ident = $tag:literal {
                    task: $task:ident,
                    probabilities: $proba:literal,
                    params: $params:ty => $valid:ty,
                    validate: |$vp:ident| $validate:expr,
                    fit: |$fp:ident, $fdata:ident, $fprogress:ident| $fitted:ident($fit:expr),
                    hyperparameters: $hyper:expr,
                    $(parity: |$pp:ident, $pdata:ident, $pprobe:ident| $parity:expr,)?
                }
            )+
        }
        fitted_json {
            $( $jvariant:ident($jmodel:ty) $(, check: $jcheck:ident)?; )+
        }
        fitted_bin {
            $( $bvariant:ident($bmodel:ty); )+
        }
    ) => {
        /// The algorithms, by their `type` tag.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ModelKind {
            $(
                $(#[doc = $doc])+
                #[serde(rename = $tag)]
                $kind,
            )+
        }

        impl ModelKind {
            /// Every algorithm, in documentation order.
            pub const ALL: &'static [ModelKind] = &[$(ModelKind::$kind),+];

            /// The `type` tag.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ModelKind::$kind => $tag,)+
                }
            }

            /// Whether the model gives class probabilities (classifiers that do; never
            /// regressors). Metrics and responses that need them are refused for the
            /// others.
            #[must_use]
            pub fn gives_probabilities(self) -> bool {
                match self {
                    $(ModelKind::$kind => $proba,)+
                }
            }

            /// Classification or regression.
            #[must_use]
            pub fn task(self) -> Task {
                match self {
                    $(ModelKind::$kind => Task::$task,)+
                }
            }

            /// Every hyperparameter of the algorithm and its default, as `train models`
            /// lists them (a test checks that this table and the params structs agree).
            #[must_use]
            pub fn hyperparameters(self) -> &'static [(&'static str, &'static str)] {
                match self {
                    $(ModelKind::$kind => $hyper,)+
                }
            }

            /// The artifact file the fitted model is stored in: [`MODEL_JSON`] for
            /// parametric models and neighbour sets, [`MODEL_BIN`] (the binary tree
            /// encoding) for trees and forests.
            #[must_use]
            pub fn model_file(self) -> &'static str {
                match self {
                    $(ModelKind::$kind => FittedKind::$fitted.file(),)+
                }
            }

            /// The fitted type this algorithm produces.
            fn fitted(self) -> FittedKind {
                match self {
                    $(ModelKind::$kind => FittedKind::$fitted,)+
                }
            }
        }

        /// The `model` section of a pipeline, chosen by `type`.
        ///
        /// Read with `type` first (as every example writes it), the hyperparameters are
        /// read straight from the YAML, so an unknown or mistyped one is reported at its
        /// own path (`model.alpah`) and line. With `type` later in the section the
        /// section is read whole first and errors carry the path only.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum ModelSpec {
            $(
                #[doc = concat!("`type: ", $tag, "`.")]
                #[serde(rename = $tag)]
                $kind($params),
            )+
        }

        impl ModelSpec {
            /// The algorithm.
            #[must_use]
            pub fn kind(&self) -> ModelKind {
                match self {
                    $(ModelSpec::$kind(_) => ModelKind::$kind,)+
                }
            }

            /// Validates the hyperparameters; paths are relative to the `model` section.
            ///
            /// # Errors
            /// Every out-of-range hyperparameter.
            pub fn validate(&self) -> Result<ValidModelSpec, ConfigErrors> {
                Ok(match self {
                    $(ModelSpec::$kind($vp) => ValidModelSpec::$kind($validate?),)+
                })
            }

            /// The params of `kind`, read from the rest of the section.
            pub(super) fn deserialize_params<'de, D: serde::Deserializer<'de>>(
                kind: ModelKind,
                rest: D,
            ) -> Result<ModelSpec, D::Error> {
                Ok(match kind {
                    $(ModelKind::$kind => ModelSpec::$kind(<$params>::deserialize(rest)?),)+
                })
            }
        }

        /// A [`ModelSpec`] whose hyperparameters passed validation.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ValidModelSpec {
            $(
                #[doc = concat!("See [`ModelSpec::", stringify!($kind), "`].")]
                $kind($valid),
            )+
        }

        impl ValidModelSpec {
            /// The algorithm.
            #[must_use]
            pub fn kind(&self) -> ModelKind {
                match self {
                    $(ValidModelSpec::$kind(_) => ModelKind::$kind,)+
                }
            }
        }

        /// [`fit`], reporting the trees of a random forest to `progress` as they are
        /// grown.
        ///
        /// # Errors
        /// As [`fit`].
        pub fn fit_with_progress(
            spec: &ValidModelSpec,
            data: &TrainingSet,
            progress: &dyn FitProgress,
        ) -> Result<TrainedModel, TrainError> {
            Ok(match spec {
                $(ValidModelSpec::$kind($fp) => {
                    let ($fdata, $fprogress) = (data, progress);
                    let _ = &$fprogress;
                    TrainedModel::$fitted($fit?)
                })+
            })
        }

        /// Fits the tree model `spec` describes (as [`fit`] does, with the same trees)
        /// and compares every tree's prediction on every row of `probe` with smartcore's
        /// own tree. `None` for models that are not trees.
        ///
        /// # Errors
        /// As [`fit`].
        pub fn parity(
            spec: &ValidModelSpec,
            data: &TrainingSet,
            probe: &FeatureMatrix,
        ) -> Result<Option<Parity>, TrainError> {
            match spec {
                $(ValidModelSpec::$kind(p) => {
                    model_table!(@parity p data probe $(|$pp, $pdata, $pprobe| $parity)?)
                })+
            }
        }

        /// A fitted model of any kind. Parametric models are stored as JSON in
        /// `model.json` (tagged by `type`), trees and forests in Ferry's binary tree
        /// encoding in `model.bin` ([`TrainedModel::encode`], [`TrainedModel::decode`]).
        #[derive(Debug, Clone, PartialEq)]
        pub enum TrainedModel {
            $(
                #[doc = concat!("A fitted [`", stringify!($jmodel), "`].")]
                $jvariant($jmodel),
            )+
            $(
                #[doc = concat!("A fitted [`", stringify!($bmodel), "`].")]
                $bvariant($bmodel),
            )+
        }

        /// The fitted types, without their contents.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum FittedKind {
            $($jvariant,)+
            $($bvariant,)+
        }

        impl FittedKind {
            /// The artifact file this fitted type is stored in.
            fn file(self) -> &'static str {
                match self {
                    $(FittedKind::$jvariant => MODEL_JSON,)+
                    $(FittedKind::$bvariant => MODEL_BIN,)+
                }
            }
        }

        /// The JSON form of parametric models, as written.
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum JsonModelRef<'a> {
            $($jvariant(&'a $jmodel),)+
        }

        /// The JSON form of parametric models, as read.
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum JsonModel {
            $($jvariant($jmodel),)+
        }

        impl TrainedModel {
            /// Encodes the model for its artifact file ([`ModelKind::model_file`]).
            ///
            /// # Errors
            /// [`ModelFileError`] when serialisation fails.
            pub fn encode(&self) -> Result<Vec<u8>, ModelFileError> {
                match self {
                    $(TrainedModel::$jvariant(m) => {
                        Ok(serde_json::to_vec(&JsonModelRef::$jvariant(m))?)
                    })+
                    $(TrainedModel::$bvariant(m) => tree::codec::TreeFile::encode(m),)+
                }
            }

            /// Decodes a model from its artifact file `file` ([`MODEL_JSON`] or
            /// [`MODEL_BIN`]), checking everything it reads.
            ///
            /// # Errors
            /// [`ModelFileError`] naming what is wrong.
            pub fn decode(file: &str, bytes: &[u8]) -> Result<Self, ModelFileError> {
                match file {
                    MODEL_JSON => Ok(match serde_json::from_slice::<JsonModel>(bytes)? {
                        $(JsonModel::$jvariant(m) => {
                            $(m.$jcheck()?;)?
                            TrainedModel::$jvariant(m)
                        })+
                    }),
                    MODEL_BIN => {
                        let (header, trees) = tree::codec::decode(bytes)?;
                        let kind = header.kind;
                        match kind.fitted() {
                            $(FittedKind::$bvariant => Ok(TrainedModel::$bvariant(
                                <$bmodel as tree::codec::TreeFile>::decode(header, trees)?,
                            )),)+
                            $(FittedKind::$jvariant)|+ => Err(ModelFileError::WrongFile {
                                file: MODEL_BIN,
                                kind,
                            }),
                        }
                    }
                    other => Err(ModelFileError::UnknownFile(other.to_owned())),
                }
            }

            pub(super) fn inner(&self) -> &dyn Model {
                match self {
                    $(TrainedModel::$jvariant(m) => m,)+
                    $(TrainedModel::$bvariant(m) => m,)+
                }
            }
        }
    };
    (@parity $p:ident $d:ident $x:ident) => {{
        let _ = ($p, $d, $x);
        Ok(None)
    }};
    (@parity $p:ident $d:ident $x:ident |$pp:ident, $pdata:ident, $pprobe:ident| $parity:expr) => {{
        let ($pp, $pdata, $pprobe) = ($p, $d, $x);
        $parity.map(Some)
    }};
}
