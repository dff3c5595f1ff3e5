#pragma once
// Fault injection for tests: KVBENCH_FAULT="oom@decode#2,oom@policy#3" makes the 2nd pass through the "decode"
// site and the 3rd through "policy" throw a device out-of-memory error, as libtorch would. Sites: "prefill"
// (a prompt's forward), "policy" (one policy choosing one layer's cache), "decode" (one decode group, or one call
// into the pools of samples in flight). Unset,
// a site costs one relaxed atomic load.

namespace kvbench {

/// Throws kvbench::Error when KVBENCH_FAULT is set but malformed or names an unknown site; a run checks this before
/// it starts, so that a test that meant to inject a fault never passes without one.
void check_fault_setting();

/// Counts a pass through `site` and throws c10::OutOfMemoryError when KVBENCH_FAULT names this pass.
void fault_point(const char* site);

}  // namespace kvbench
