//! Fault injection for IVS operations (never for the control API): per operation (or `*`), a rate
//! of throttling (429), internal errors (500) and unavailability (503), plus added latency, drawn
//! from a random generator seeded from the emulator's seed, so a run is reproducible. Setting a
//! new configuration restarts the generator from the seed.
//!
//! Besides the random faults, [`ScriptedError`]s make the next N calls of an operation fail with a
//! chosen error type (to exercise errors that cannot otherwise happen locally, such as
//! `AccessDeniedException` or `PendingVerification`).

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::ops::Operation;

/// Fault rules; the rule naming an operation wins over the `*` rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// The rules.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultConfig {
    /// The rule that applies to `operation`, if any.
    pub fn rule_for(&self, operation: &str) -> Option<&FaultRule> {
        self.rules
            .iter()
            .find(|rule| rule.operation == operation)
            .or_else(|| self.rules.iter().find(|rule| rule.operation == "*"))
    }

    /// Checks every rule (known operations, rates in `0..=1` adding up to at most 1).
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        self.rules.iter().try_for_each(FaultRule::validate)
    }
}

/// Faults for one operation (or every operation: `*`). In JSON: `{"operation", "throttle",
/// "error500", "unavailable", "latencyMs"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// An IVS operation name, or `*`.
    pub operation: String,
    /// Probability of a `ThrottlingException` (429).
    #[serde(default)]
    pub throttle: f64,
    /// Probability of an `InternalServerException` (500).
    #[serde(default)]
    pub error500: f64,
    /// Probability of a 503 (`StreamUnavailable` for StopStream, `ServiceUnavailable` otherwise).
    #[serde(default)]
    pub unavailable: f64,
    /// Latency added to every matching request, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
}

/// A fault specification that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    /// Not `<Operation|*>:key=value,...`.
    #[error("fault spec must look like '<Operation|*>:throttle=0.1,error500=0.05,unavailable=0.05,latency_ms=50': {0}")]
    Syntax(String),
    /// The operation is not an emulated IVS operation.
    #[error("unknown operation in fault spec: {0}")]
    UnknownOperation(String),
    /// A rate outside `0..=1`, or rates adding up to more than 1.
    #[error("fault rates must lie in 0..=1 and add up to at most 1 (operation {0})")]
    Rate(String),
}

impl FaultRule {
    fn validate(&self) -> Result<(), FaultSpecError> {
        if self.operation != "*" && Operation::from_name(&self.operation).is_none() {
            return Err(FaultSpecError::UnknownOperation(self.operation.clone()));
        }
        let rates = [self.throttle, self.error500, self.unavailable];
        let in_range = rates
            .iter()
            .all(|rate| rate.is_finite() && (0.0..=1.0).contains(rate));
        if !in_range || rates.iter().sum::<f64>() > 1.0 + f64::EPSILON {
            return Err(FaultSpecError::Rate(self.operation.clone()));
        }
        Ok(())
    }
}

impl FromStr for FaultRule {
    type Err = FaultSpecError;

    /// Parses `<Operation|*>:throttle=0.1,error500=0.05,unavailable=0.05,latency_ms=50` (any
    /// subset of the keys).
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let syntax = || FaultSpecError::Syntax(spec.to_owned());
        let (operation, settings) = spec.split_once(':').ok_or_else(syntax)?;
        let mut rule = FaultRule {
            operation: operation.trim().to_owned(),
            throttle: 0.0,
            error500: 0.0,
            unavailable: 0.0,
            latency_ms: 0,
        };
        for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = setting.split_once('=').ok_or_else(syntax)?;
            let value = value.trim();
            match key.trim() {
                "throttle" => rule.throttle = value.parse().map_err(|_| syntax())?,
                "error500" => rule.error500 = value.parse().map_err(|_| syntax())?,
                "unavailable" => rule.unavailable = value.parse().map_err(|_| syntax())?,
                "latency_ms" => rule.latency_ms = value.parse().map_err(|_| syntax())?,
                _ => return Err(syntax()),
            }
        }
        rule.validate()?;
        Ok(rule)
    }
}

/// The next `remaining` calls of `operation` fail with `error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptedError {
    /// The operation.
    pub operation: String,
    /// The error type (`X-Amzn-Errortype`).
    pub error: String,
    /// How many more calls fail.
    pub remaining: u32,
}

/// What fault injection decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Latency to add before answering.
    pub latency: Duration,
    /// The error to answer with, if any.
    pub error: Option<InjectedError>,
}

/// An injected error and how it was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectedError {
    /// The error type.
    pub kind: ErrorKind,
    /// Which counter of the statistics it goes to.
    pub cause: FaultCause,
}

/// Why an error was injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCause {
    /// A random throttle.
    Throttle,
    /// A random 500.
    Error500,
    /// A random 503.
    Unavailable,
    /// A scripted error.
    Scripted,
}

/// The fault configuration and its random generator.
#[derive(Debug)]
pub(crate) struct FaultState {
    config: FaultConfig,
    seed: u64,
    rng: fastrand::Rng,
    scripted: Vec<ScriptedError>,
}

/// Mixed into the seed so the fault draws do not mirror the id draws.
const FAULT_SEED_SALT: u64 = 0x5DEE_CE66_D1CE_F00D;

impl FaultState {
    pub(crate) fn new(config: FaultConfig, seed: u64) -> Self {
        Self {
            config,
            seed,
            rng: fastrand::Rng::with_seed(seed ^ FAULT_SEED_SALT),
            scripted: Vec::new(),
        }
    }

    pub(crate) fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Replaces the configuration and restarts the generator from the seed.
    pub(crate) fn set_config(&mut self, config: FaultConfig) {
        self.config = config;
        self.rng = fastrand::Rng::with_seed(self.seed ^ FAULT_SEED_SALT);
    }

    pub(crate) fn script(&mut self, scripted: ScriptedError) {
        self.scripted.push(scripted);
    }

    pub(crate) fn scripted(&self) -> &[ScriptedError] {
        &self.scripted
    }

    /// Decides the fate of one request of `operation`.
    pub(crate) fn decide(&mut self, operation: Operation) -> Decision {
        let name = operation.name();
        if let Some(index) = self
            .scripted
            .iter()
            .position(|s| s.operation == name && s.remaining > 0)
        {
            let scripted = self.scripted.remove(index);
            let kind =
                ErrorKind::from_type_name(&scripted.error).unwrap_or(ErrorKind::InternalServer);
            if scripted.remaining > 1 {
                let remaining = scripted.remaining - 1;
                self.scripted.insert(
                    index,
                    ScriptedError {
                        remaining,
                        ..scripted
                    },
                );
            }
            return Decision {
                latency: Duration::ZERO,
                error: Some(InjectedError {
                    kind,
                    cause: FaultCause::Scripted,
                }),
            };
        }
        let Some(rule) = self.config.rule_for(name) else {
            return Decision {
                latency: Duration::ZERO,
                error: None,
            };
        };
        let latency = Duration::from_millis(rule.latency_ms);
        let total = rule.throttle + rule.error500 + rule.unavailable;
        if total <= 0.0 {
            return Decision {
                latency,
                error: None,
            };
        }
        let draw = self.rng.f64();
        let error = if draw < rule.throttle {
            Some(InjectedError {
                kind: ErrorKind::Throttling,
                cause: FaultCause::Throttle,
            })
        } else if draw < rule.throttle + rule.error500 {
            Some(InjectedError {
                kind: ErrorKind::InternalServer,
                cause: FaultCause::Error500,
            })
        } else if draw < total {
            Some(InjectedError {
                kind: operation.unavailable_error(),
                cause: FaultCause::Unavailable,
            })
        } else {
            None
        };
        Decision { latency, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let rule: FaultRule = "*:throttle=0.1,error500=0.05,unavailable=0.05,latency_ms=50"
            .parse()
            .unwrap();
        assert_eq!(rule.operation, "*");
        assert_eq!(rule.throttle, 0.1);
        assert_eq!(rule.latency_ms, 50);
        let rule: FaultRule = "PutMetadata:throttle=1".parse().unwrap();
        assert_eq!(rule.operation, "PutMetadata");
        let error = |spec: &str| spec.parse::<FaultRule>().unwrap_err();
        assert!(matches!(
            error("NoSuchOp:throttle=0.1"),
            FaultSpecError::UnknownOperation(_)
        ));
        for spec in ["*:throttle=0.6,error500=0.6", "*:throttle=-1"] {
            assert!(matches!(error(spec), FaultSpecError::Rate(_)), "{spec}");
        }
        for spec in ["*:bogus=1", "throttle=1", "*:throttle=x"] {
            assert!(matches!(error(spec), FaultSpecError::Syntax(_)), "{spec}");
        }
    }

    #[test]
    fn specific_rules_win_over_the_wildcard() {
        let config = FaultConfig {
            rules: vec![
                "*:throttle=1".parse().unwrap(),
                "GetChannel:latency_ms=5".parse().unwrap(),
            ],
        };
        let mut state = FaultState::new(config, 1);
        assert_eq!(
            state.decide(Operation::GetChannel),
            Decision {
                latency: Duration::from_millis(5),
                error: None
            }
        );
        assert_eq!(
            state.decide(Operation::ListChannels).error.map(|e| e.kind),
            Some(ErrorKind::Throttling)
        );
        let unavailable = FaultConfig {
            rules: vec!["StopStream:unavailable=1".parse().unwrap()],
        };
        state.set_config(unavailable);
        assert_eq!(
            state.decide(Operation::StopStream).error.map(|e| e.kind),
            Some(ErrorKind::StreamUnavailable)
        );
    }

    #[test]
    fn draws_are_reproducible_and_restart_with_a_new_config() {
        let config = FaultConfig {
            rules: vec!["*:throttle=0.3,error500=0.2,unavailable=0.1"
                .parse()
                .unwrap()],
        };
        let run = |state: &mut FaultState| {
            (0..200)
                .map(|_| state.decide(Operation::GetChannel).error.map(|e| e.kind))
                .collect::<Vec<_>>()
        };
        let mut a = FaultState::new(config.clone(), 42);
        let mut b = FaultState::new(config.clone(), 42);
        let first = run(&mut a);
        assert_eq!(first, run(&mut b));
        a.set_config(config);
        assert_eq!(first, run(&mut a));
        let faults = first.iter().filter(|e| e.is_some()).count();
        assert!(
            (80..160).contains(&faults),
            "{faults} faults in 200 draws at 60%"
        );
    }

    #[test]
    fn scripted_errors_come_first_and_run_out() {
        let mut state = FaultState::new(FaultConfig::default(), 1);
        state.script(ScriptedError {
            operation: "CreateChannel".to_owned(),
            error: "PendingVerification".to_owned(),
            remaining: 2,
        });
        for _ in 0..2 {
            let decision = state.decide(Operation::CreateChannel);
            assert_eq!(
                decision.error.map(|e| e.kind),
                Some(ErrorKind::PendingVerification)
            );
        }
        assert_eq!(state.decide(Operation::CreateChannel).error, None);
        assert!(state.scripted().is_empty());
    }
}
