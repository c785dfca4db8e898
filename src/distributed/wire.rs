//! What travels through the queue's rows: a trial's proposal as JSON, and its out-of-fold
//! predictions as little-endian numbers.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{AutotabError, Result};
use crate::models::{Algorithm, Params};
use crate::search::Proposal;

/// A [`Proposal`] as a queued trial row stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireProposal {
    algorithm: Algorithm,
    params: Params,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows: Option<usize>,
}

/// `proposal` as JSON.
pub(crate) fn encode_proposal(proposal: &Proposal) -> serde_json::Value {
    serde_json::to_value(WireProposal {
        algorithm: proposal.algorithm,
        params: proposal.params.clone(),
        rows: proposal.rows,
    })
    .unwrap_or_default()
}

/// The proposal stored as `value` (trial `index` of run `run`, for messages).
pub(crate) fn decode_proposal(
    value: &serde_json::Value,
    run: &str,
    index: usize,
) -> Result<Proposal> {
    let wire: WireProposal = serde_json::from_value(value.clone()).map_err(|e| {
        AutotabError::Store(format!(
            "trial {index} of run {run}: its queued proposal is unreadable ({e}); was it queued \
             by another version of autotab?"
        ))
    })?;
    Ok(Proposal {
        algorithm: wire.algorithm,
        params: wire.params,
        rows: wire.rows,
    })
}

/// Out-of-fold predictions as bytes: rows and columns (u64), then the values row by row (f64),
/// all little-endian.
pub(crate) fn encode_predictions(p: &Array2<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + p.len() * 8);
    out.extend_from_slice(&(p.nrows() as u64).to_le_bytes());
    out.extend_from_slice(&(p.ncols() as u64).to_le_bytes());
    for v in p.iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The predictions encoded by [`encode_predictions`].
pub(crate) fn decode_predictions(bytes: &[u8]) -> Result<Array2<f64>> {
    let bad = |why: &str| AutotabError::Store(format!("stored out-of-fold predictions: {why}"));
    let word = |i: usize| -> Result<u64> {
        let b: [u8; 8] = bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated"))?;
        Ok(u64::from_le_bytes(b))
    };
    let rows = usize::try_from(word(0)?).map_err(|_| bad("too many rows"))?;
    let cols = usize::try_from(word(1)?).map_err(|_| bad("too many columns"))?;
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| bad("too many values"))?;
    if bytes.len() != 16 + n * 8 {
        return Err(bad(&format!(
            "{} bytes for {rows} x {cols} values",
            bytes.len()
        )));
    }
    let values = bytes[16..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    Array2::from_shape_vec((rows, cols), values).map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn predictions_round_trip(rows in 0usize..20, cols in 1usize..4, seed in any::<u64>()) {
            let values: Vec<f64> = (0..rows * cols)
                .map(|i| (seed.wrapping_mul(i as u64 + 1) as f64).sin())
                .collect();
            let p = Array2::from_shape_vec((rows, cols), values).unwrap();
            let back = decode_predictions(&encode_predictions(&p)).unwrap();
            prop_assert_eq!(back, p);
        }

        #[test]
        fn damaged_predictions_are_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_predictions(&bytes);
        }
    }

    #[test]
    fn a_proposal_round_trips() {
        let proposal = Proposal {
            algorithm: Algorithm::ElasticNet,
            params: crate::search::low_cost_params(Algorithm::ElasticNet.space()),
            rows: Some(10_000),
        };
        let back = decode_proposal(&encode_proposal(&proposal), "run-x", 3).unwrap();
        assert_eq!(back, proposal);
    }
}
