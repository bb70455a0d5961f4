// SPDX-License-Identifier: MIT
// The scheduler's decisions, without the platform: per-pCPU FIFO run queues of vCPUs, placement
// by affinity, yield/preemption at the tail, and work stealing by an idle pCPU.
//
// Entity states (one Entity is embedded in each vCPU; all zero = Down, not queued):
//
//   Down --wake (VCPUOP_up)--> Runnable (queued on one pCPU) --pick_next--> Running
//                                 ^          ^                               |
//                                 |          +--- requeue (yield, slice end) -+
//                                 +--- wake (an event, a timer) --- Blocked <-+ block
//   Running/Runnable/Blocked --take_down--> Down (VCPUOP_down, domain ended)
//
// Not thread-safe: the platform (arch/x86_64/src/sched.cpp) calls it under one lock. A pCPU with
// an empty queue runs its idle vCPU (the idle loop), which is not an Entity.
#pragma once

#include "hv/core/cmdline.hpp"
#include "hv/core/status.hpp"
#include "hv/core/types.hpp"

namespace hv::sched {

inline constexpr unsigned kMaxCpus = 8;
inline constexpr unsigned kQueueCapacity = 64;  // every vCPU of every domain fits in one queue
inline constexpr unsigned kNoCpu = 0xff;

enum class RunState : u8 { Down = 0, Runnable, Running, Blocked };

struct Entity {
    void* owner;   // the vCPU this entity schedules (set once at build)
    RunState state;
    bool queued;   // in queue `cpu` (state Runnable)
    u8 cpu;        // Running: where; Runnable: whose queue; Blocked/Down: where it last ran
    u8 pad;
    u32 affinity;  // pCPUs it may run on (bit per pCPU); 0 means every pCPU
    u32 migrations;  // times it moved to another pCPU (statistics, tests)
};

// A FIFO ring of entities. Zero-initialised = empty.
class RunQueue {
  public:
    bool push_back(Entity* entity);  // false when full (a bug: capacity covers every vCPU)
    Entity* pop_front();             // nullptr when empty
    bool remove(const Entity* entity);
    Entity* at(unsigned i) const { return slots_[(head_ + i) % kQueueCapacity]; }
    unsigned size() const { return count_; }

  private:
    Entity* slots_[kQueueCapacity];
    unsigned head_;
    unsigned count_;
};

class Scheduler {
  public:
    // `cpus` pCPUs (1..kMaxCpus) take part; zero-initialised storage before.
    void init(unsigned cpus);
    unsigned cpus() const { return cpus_; }

    // Whether `entity` may run on `cpu` (its affinity, limited to the pCPUs that exist).
    bool allowed(const Entity& entity, unsigned cpu) const;
    // The allowed pCPU with the shortest queue, preferring `preferred` on a tie; kNoCpu when
    // the affinity names no existing pCPU.
    unsigned place(const Entity& entity, unsigned preferred) const;

    // Down or Blocked -> Runnable, queued on its last pCPU when allowed (else on place()). Returns
    // the pCPU whose queue took it (the platform pokes that pCPU), or kNoCpu when it was not
    // waiting (already Runnable/Running: nothing to do).
    unsigned wake(Entity& entity);
    // Running -> Blocked (SCHEDOP_block/poll found nothing to do).
    void block(Entity& entity);
    // Running -> Runnable at the tail of its pCPU's queue (yield, end of a time slice).
    void requeue(Entity& entity);
    // Any state -> Down, out of any queue.
    void take_down(Entity& entity);

    // The next entity for `cpu`, now Running there: the head of its own queue, else one stolen
    // from the longest other queue that it may run on (it migrates). nullptr: run idle.
    Entity* pick_next(unsigned cpu);
    unsigned queued(unsigned cpu) const { return queues_[cpu].size(); }

  private:
    Entity* steal_for(unsigned cpu);
    void enqueue(Entity& entity, unsigned cpu);

    RunQueue queues_[kMaxCpus];
    unsigned cpus_;
};

// Parses a pCPU list for affinity ("0-3", "1", "0,2-3"): bit per pCPU into the u32 at `target`.
// Bad: empty, junk, a pCPU >= kMaxCpus, a reversed range.
Status parse_cpu_list(cmdline::Token value, void* target);

// pin=: one pCPU per vCPU in order ("0,1": vCPU 0 on pCPU 0, vCPU 1 on pCPU 1); vCPUs beyond the
// list keep cpus=. Parsed into a PinList at `target`.
struct PinList {
    u8 cpu[8];
    u8 count;
};
Status parse_pin_list(cmdline::Token value, void* target);

}  // namespace hv::sched
