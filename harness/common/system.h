#pragma once
// Small facts about the running process and the wall clock, on POSIX calls.

#include <initializer_list>
#include <string>

namespace kvbench::system {

/// Now in UTC, ISO 8601 to the second ("2026-12-02T17:30:00Z").
std::string utc_now();
/// The absolute path of the running executable (/proc/self/exe).
std::string self_executable();
/// The current working directory.
std::string current_directory();
/// This machine's host name.
const std::string& host_name();
/// The setting environment variable `name` chooses among `choices`: the first choice when it is unset or empty;
/// any value not among them is an error naming them ("NAME must be a, b or c, got 'x'").
std::string env_choice(const char* name, std::initializer_list<const char*> choices);

}  // namespace kvbench::system
