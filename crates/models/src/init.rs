//! Where an encoder's initial weights come from: `random`, `imagenet:FILE` or `barlow:FILE`.
//!
//! Shared by pretraining (`twinscan-ssl`, "Barlow from ImageNet") and classification
//! (`twinscan-classify`, every backbone of the study), so both parse and load it the same way.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};
use crate::resnet::ResNet;
use crate::weights::{self, LoadOptions, LoadReport};

/// Where the backbone's initial weights come from.
///
/// Parsed from and written as `random`, `imagenet:FILE` or `barlow:FILE` (also in serde).
///
/// ```
/// use twinscan_models::BackboneInit;
/// let init: BackboneInit = "imagenet:weights/resnet18.pth".parse().unwrap();
/// assert_eq!(init, BackboneInit::ImageNet("weights/resnet18.pth".into()));
/// assert_eq!(init.to_string(), "imagenet:weights/resnet18.pth");
/// assert!("barlow:".parse::<BackboneInit>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BackboneInit {
    /// torchvision's random initialisation.
    #[default]
    Random,
    /// torchvision ImageNet weights (`.pth` or `.safetensors`; the `fc` head is ignored).
    ImageNet(PathBuf),
    /// A twinscan Barlow Twins encoder export (torchvision-named `.safetensors` or `.pth`).
    Barlow(PathBuf),
}

impl BackboneInit {
    /// The weight file, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Random => None,
            Self::ImageNet(p) | Self::Barlow(p) => Some(p),
        }
    }

    /// Loads the weights into `encoder` (nothing for `Random`): a file's `fc.*` head is
    /// ignored, every other key must match. Returns the load report when a file was read.
    ///
    /// # Errors
    /// [`ModelsError::WeightLoad`] / [`ModelsError::KeyMismatch`] naming the file.
    pub fn load_into(&self, encoder: &mut ResNet) -> Result<Option<LoadReport>> {
        match self.path() {
            None => Ok(None),
            Some(path) => weights::load(encoder, path, &LoadOptions::ignore_head()).map(Some),
        }
    }
}

impl FromStr for BackboneInit {
    type Err = ModelsError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: String| ModelsError::InvalidInit {
            spec: s.to_string(),
            reason,
        };
        if s == "random" {
            return Ok(Self::Random);
        }
        let (kind, file) = s
            .split_once(':')
            .ok_or_else(|| bad("not `random`, `imagenet:FILE` or `barlow:FILE`".into()))?;
        if file.is_empty() {
            return Err(bad(format!("names no file after `{kind}:`")));
        }
        match kind {
            "imagenet" => Ok(Self::ImageNet(file.into())),
            "barlow" => Ok(Self::Barlow(file.into())),
            _ => Err(bad(format!(
                "unknown kind {kind:?} (expected random, imagenet:FILE or barlow:FILE)"
            ))),
        }
    }
}

impl TryFrom<String> for BackboneInit {
    type Error = ModelsError;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<BackboneInit> for String {
    fn from(b: BackboneInit) -> String {
        b.to_string()
    }
}

impl fmt::Display for BackboneInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random => write!(f, "random"),
            Self::ImageNet(p) => write!(f, "imagenet:{}", p.display()),
            Self::Barlow(p) => write!(f, "barlow:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serde_round_trip() {
        for (s, v) in [
            ("random", BackboneInit::Random),
            ("imagenet:a/b.pth", BackboneInit::ImageNet("a/b.pth".into())),
            (
                "barlow:c:d.safetensors",
                BackboneInit::Barlow("c:d.safetensors".into()),
            ),
        ] {
            assert_eq!(s.parse::<BackboneInit>().unwrap(), v);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<BackboneInit>(&json).unwrap(), v);
        }
        for bad in ["", "Random", "imagenet", "imagenet:", "simclr:x.pth"] {
            let e = bad.parse::<BackboneInit>().unwrap_err();
            assert!(matches!(e, ModelsError::InvalidInit { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(serde_json::from_str::<BackboneInit>("\"moco:x\"").is_err());
    }
}
