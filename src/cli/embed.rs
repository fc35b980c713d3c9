//! The `embed` command line (clap): flags → [`EmbedOptions`], tested without running the
//! binary.
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::embed::EmbedArgs;
//! let a = EmbedArgs::try_parse_from(["embed", "--encoder", "e.safetensors", "--data", "d",
//!     "--out", "o", "--split", "val", "--knn", "20"]).unwrap();
//! let o = a.options().unwrap();
//! assert_eq!((o.split.map(|s| s.to_string()), o.knn), (Some("val".into()), Some(20)));
//! let all = EmbedArgs::try_parse_from(["embed", "--encoder", "e", "--data", "d", "--out", "o"]);
//! assert_eq!(all.unwrap().options().unwrap().split, None);
//! let bad = EmbedArgs::try_parse_from(["embed", "--encoder", "e", "--data", "d", "--out", "o",
//!     "--split", "validation"]).unwrap();
//! assert!(bad.options().unwrap_err().contains("--split"));
//! ```

use std::path::PathBuf;

use clap::Parser;
use twinscan_data::split::Split;

use crate::embed::EmbedOptions;

/// Exports an encoder's features of a prepared dataset (embeddings.npy, index.csv, pca.png).
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct EmbedArgs {
    /// Encoder weights (encoder.safetensors, model.safetensors, torchvision .pth/.safetensors).
    #[arg(long)]
    pub encoder: PathBuf,
    /// Prepared dataset folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// train, val, test or all.
    #[arg(long, default_value = "all")]
    pub split: String,
    /// Structure whose label colours pca.png (default: the first with both classes).
    #[arg(long)]
    pub color_by: Option<String>,
    /// Also run the kNN probe (train split as memory, validation scored) with K neighbours.
    #[arg(long)]
    pub knn: Option<usize>,
    /// Architecture of a file without twinscan metadata.
    #[arg(long)]
    pub arch: Option<String>,
    /// Input channels of a file without twinscan metadata.
    #[arg(long)]
    pub in_channels: Option<usize>,
    /// Input size of a file without twinscan metadata.
    #[arg(long)]
    pub image_size: Option<usize>,
    /// cpu, wgpu[:N], vulkan[:N], tch[:N], cuda[:N] (default: TWINSCAN_DEVICE or cpu).
    #[arg(long)]
    pub device: Option<String>,
}

impl EmbedArgs {
    /// The options these flags ask for (`--split all` = every slice).
    ///
    /// # Errors
    /// A `--split` that is not train, val, test or all (the message names the flag).
    pub fn options(&self) -> Result<EmbedOptions, String> {
        let split = match self.split.as_str() {
            "all" => None,
            s => Some(
                s.parse::<Split>()
                    .map_err(|_| format!("--split: {s:?} is not train, val, test or all"))?,
            ),
        };
        Ok(EmbedOptions {
            split,
            color_by: self.color_by.clone(),
            knn: self.knn,
            arch: self.arch.clone(),
            in_channels: self.in_channels,
            image_size: self.image_size,
            ..EmbedOptions::new(&self.encoder, &self.data, &self.out)
        })
    }
}
