//! Pure helpers that build `mesh-core` values: splits, resilience presets, policies, faults and schedules.
