// The registered policies: one KVBENCH_POLICY(name, factory) line each. `factory` is defined in the
// policy's own file as `std::unique_ptr<EvictionPolicy> factory(const PolicySpec&)`.
// (No include guard: registry.cpp includes this list twice.)
KVBENCH_POLICY("full", make_full_policy)
KVBENCH_POLICY("streaming", make_streaming_policy)
