// SPDX-License-Identifier: MIT
// Sparse fake physical memory behind a boot::PhysReader, for host tests of loader-table parsers.
//
// Memory is a set of 4 KiB pages at any machine address. Mapped pages read as zero until
// written; a read touching any unmapped page (or wrapping past 2^64) fails, like an address the
// hypervisor cannot reach. Writes map the pages they touch.
#pragma once

#include <array>
#include <cstring>
#include <map>
#include <memory>

#include "hv/boot/multiboot.hpp"
#include "hv/core/types.hpp"

namespace hv::test {

class FakePhysMemory {
  public:
    static constexpr u64 kPage = 4096;

    // Makes [base, base + length) readable (zero-filled where not yet mapped).
    void map(u64 base, u64 length) {
        for (u64 page = base / kPage; length != 0 && page <= (base + length - 1) / kPage; ++page) page_at(page);
    }

    // Makes every page overlapping [base, base + length) unreadable again.
    void unmap(u64 base, u64 length) {
        for (u64 page = base / kPage; length != 0 && page <= (base + length - 1) / kPage; ++page) pages_.erase(page);
    }

    void write(u64 maddr, const void* source, usize length) {
        const auto* from = static_cast<const u8*>(source);
        for (usize done = 0; done < length;) {
            const u64 at = maddr + done;
            const usize offset = static_cast<usize>(at % kPage);
            const usize step = length - done < kPage - offset ? length - done : kPage - offset;
            std::memcpy(page_at(at / kPage).data() + offset, from + done, step);
            done += step;
        }
    }

    template <class T>
    void put(u64 maddr, const T& value) {
        write(maddr, &value, sizeof value);
    }
    void put_string(u64 maddr, const char* text) { write(maddr, text, std::strlen(text) + 1); }

    bool read(u64 maddr, void* destination, usize length) const {
        if (length != 0 && maddr + length - 1 < maddr) return false;  // wraps past 2^64
        auto* to = static_cast<u8*>(destination);
        for (usize done = 0; done < length;) {
            const u64 at = maddr + done;
            const usize offset = static_cast<usize>(at % kPage);
            const usize step = length - done < kPage - offset ? length - done : kPage - offset;
            const auto found = pages_.find(at / kPage);
            if (found == pages_.end()) return false;
            std::memcpy(to + done, found->second->data() + offset, step);
            done += step;
        }
        return true;
    }

    // Counts reads, so a test can prove a parser gave up instead of looping.
    usize read_count() const { return read_count_; }

    boot::PhysReader reader() const { return boot::PhysReader{&FakePhysMemory::read_thunk, this}; }

  private:
    using Page = std::array<u8, kPage>;

    static bool read_thunk(const void* context, u64 maddr, void* destination, usize length) {
        const auto* self = static_cast<const FakePhysMemory*>(context);
        ++self->read_count_;
        return self->read(maddr, destination, length);
    }

    Page& page_at(u64 page) {
        auto& slot = pages_[page];
        if (!slot) slot = std::make_unique<Page>();  // value-initialised: zero-filled
        return *slot;
    }

    std::map<u64, std::unique_ptr<Page>> pages_;
    mutable usize read_count_ = 0;
};

}  // namespace hv::test
