// SPDX-License-Identifier: MIT
// The `asi=` option parser and its boot log lines (syntax: hv/boot/asi_option.hpp).
#include "hv/boot/asi_option.hpp"

#include "hv/core/format.hpp"

namespace hv::boot {
namespace {

using cmdline::Token;

struct FeatureName {
    const char* name;
    bool AsiFeatures::*flag;
};
// Also the order of the boot log line.
constexpr FeatureName kFeatures[] = {
    {"vcpu-pt", &AsiFeatures::vcpu_pt},
    {"cpu-stack", &AsiFeatures::cpu_stack},
    {"zero-stack", &AsiFeatures::zero_stack},
};

// A word with its optional "no-" prefix split off. Item names are matched byte for byte (no
// '-'/'_' folding): they are part of the value, like every other option value.
struct Word {
    Token name;
    bool negated;
};

Word split_no(Token word) {
    if (word.size >= 3 && word.data[0] == 'n' && word.data[1] == 'o' && word.data[2] == '-')
        return {Token{word.data + 3, word.size - 3}, true};
    return {word, false};
}

Optional<GuestType> guest_type(Token name) {
    if (cmdline::equals(name, "pv")) return GuestType::Pv;
    if (cmdline::equals(name, "hvm")) return GuestType::Hvm;
    return {};
}

const FeatureName* find_feature(Token name) {
    for (const FeatureName& feature : kFeatures)
        if (cmdline::equals(name, feature.name)) return &feature;
    return nullptr;
}

// `name` -> true, `no-name` -> false, `name=<bool>` -> the bool; `no-name=...` is malformed.
Optional<bool> switch_value(const Word& word, Optional<Token> value) {
    if (!value) return !word.negated;
    if (word.negated) return {};
    return cmdline::parse_bool(value.value());
}

void set_all(AsiPolicy& policy, GuestType type, bool on) {
    policy.of(type) = on ? kAllAsiFeatures : AsiFeatures{};
}

// The value of `F=...`: a boolean for both types, or one type selector `[no-]pv[=<bool>]`.
Status apply_feature_value(AsiPolicy& policy, const FeatureName& feature, Token value) {
    if (const Optional<bool> both = cmdline::parse_bool(value)) {
        policy.pv.*feature.flag = both.value();
        policy.hvm.*feature.flag = both.value();
        return Status::Ok;
    }
    const cmdline::KeyValue selector = cmdline::split_key_value(value);
    const Word word = split_no(selector.key);
    const Optional<GuestType> type = guest_type(word.name);
    const Optional<bool> on = switch_value(word, selector.value);
    if (!type || !on) return Status::InvalidArgument;
    policy.of(type.value()).*feature.flag = on.value();
    return Status::Ok;
}

// One list item (grammar in the header).
Status apply_item(AsiPolicy& policy, Token item) {
    if (const Optional<bool> all = cmdline::parse_bool(item)) {
        set_all(policy, GuestType::Pv, all.value());
        set_all(policy, GuestType::Hvm, all.value());
        return Status::Ok;
    }
    const cmdline::KeyValue pair = cmdline::split_key_value(item);
    const Word word = split_no(pair.key);
    if (const Optional<GuestType> type = guest_type(word.name)) {
        const Optional<bool> on = switch_value(word, pair.value);
        if (!on) return Status::InvalidArgument;
        set_all(policy, type.value(), on.value());
        return Status::Ok;
    }
    const FeatureName* feature = find_feature(word.name);
    if (feature == nullptr) return Status::InvalidArgument;
    if (!pair.value || word.negated) {
        const Optional<bool> on = switch_value(word, pair.value);
        if (!on) return Status::InvalidArgument;
        policy.pv.*feature->flag = on.value();
        policy.hvm.*feature->flag = on.value();
        return Status::Ok;
    }
    return apply_feature_value(policy, *feature, pair.value.value());
}

}  // namespace

Status parse_asi(Token value, void* target) {
    AsiPolicy& policy = *static_cast<AsiPolicy*>(target);
    // Work on a copy so that a bad item leaves the policy as it was.
    AsiPolicy updated = policy;
    const Status status = cmdline::for_each_list_item(value, [&](Token item) { return apply_item(updated, item); });
    if (status != Status::Ok) return Status::InvalidArgument;
    policy = updated;
    return Status::Ok;
}

void apply_asi_dependencies(AsiPolicy& policy) {
    AsiFeatures* const types[] = {&policy.pv, &policy.hvm};
    for (AsiFeatures* features : types)
        if (features->cpu_stack) features->vcpu_pt = true;
}

usize format_asi_features(char* buffer, usize capacity, const AsiPolicy& policy, GuestType type) {
    const bool pv = type == GuestType::Pv;
    const AsiFeatures& features = policy.of(type);
    usize length = format(buffer, capacity, "ASI features for %s guests:", pv ? "PV" : "HVM");
    for (const FeatureName& feature : kFeatures)
        if (features.*feature.flag) length += format(buffer + length, capacity - length, " %s", feature.name);
    if (!features.any()) length += format(buffer + length, capacity - length, " None");
    if (!pv) {
        const char* note = features.any() ? " (no effect: Isola has no HVM guests)" : " (no HVM guests)";
        length += format(buffer + length, capacity - length, "%s", note);
    }
    return length;
}

}  // namespace hv::boot
