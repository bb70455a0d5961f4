// SPDX-License-Identifier: MIT
// Run queues and scheduling decisions (see scheduler.hpp for the state machine).
#include "hv/sched/scheduler.hpp"

#include "hv/core/check.hpp"

namespace hv::sched {

bool RunQueue::push_back(Entity* entity) {
    if (count_ == kQueueCapacity) return false;
    slots_[(head_ + count_) % kQueueCapacity] = entity;
    ++count_;
    return true;
}

Entity* RunQueue::pop_front() {
    if (count_ == 0) return nullptr;
    Entity* entity = slots_[head_];
    head_ = (head_ + 1) % kQueueCapacity;
    --count_;
    return entity;
}

bool RunQueue::remove(const Entity* entity) {
    for (unsigned i = 0; i < count_; ++i) {
        if (at(i) != entity) continue;
        // Close the gap: every later entry moves one slot forward, so FIFO order is kept.
        for (unsigned j = i; j + 1 < count_; ++j) slots_[(head_ + j) % kQueueCapacity] = at(j + 1);
        --count_;
        return true;
    }
    return false;
}

void Scheduler::init(unsigned cpus) {
    HV_CHECK(cpus >= 1 && cpus <= kMaxCpus);
    cpus_ = cpus;
}

bool Scheduler::allowed(const Entity& entity, unsigned cpu) const {
    return cpu < cpus_ && (entity.affinity == 0 || ((entity.affinity >> cpu) & 1) != 0);
}

unsigned Scheduler::place(const Entity& entity, unsigned preferred) const {
    unsigned best = kNoCpu;
    if (preferred < cpus_ && allowed(entity, preferred)) best = preferred;
    for (unsigned cpu = 0; cpu < cpus_; ++cpu)
        if (allowed(entity, cpu) && (best == kNoCpu || queues_[cpu].size() < queues_[best].size())) best = cpu;
    return best;
}

void Scheduler::enqueue(Entity& entity, unsigned cpu) {
    HV_CHECK(!entity.queued && cpu < cpus_);
    HV_CHECK(queues_[cpu].push_back(&entity));
    entity.queued = true;
    entity.state = RunState::Runnable;
    if (entity.cpu != cpu) ++entity.migrations;
    entity.cpu = static_cast<u8>(cpu);
}

unsigned Scheduler::wake(Entity& entity) {
    if (entity.state != RunState::Down && entity.state != RunState::Blocked) return kNoCpu;
    // Back where it last ran (its state may still be loaded there: a lazy switch back).
    const unsigned cpu = allowed(entity, entity.cpu) ? entity.cpu : place(entity, entity.cpu);
    if (cpu == kNoCpu) return kNoCpu;
    enqueue(entity, cpu);
    return cpu;
}

void Scheduler::block(Entity& entity) {
    HV_CHECK(entity.state == RunState::Running && !entity.queued);
    entity.state = RunState::Blocked;
}

void Scheduler::requeue(Entity& entity) {
    HV_CHECK(entity.state == RunState::Running && !entity.queued);
    enqueue(entity, entity.cpu);
}

void Scheduler::take_down(Entity& entity) {
    if (entity.queued) HV_CHECK(queues_[entity.cpu].remove(&entity));
    entity.queued = false;
    entity.state = RunState::Down;
}

Entity* Scheduler::steal_for(unsigned cpu) {
    unsigned victim = kNoCpu;
    for (unsigned other = 0; other < cpus_; ++other)
        if (other != cpu && queues_[other].size() > 0 &&
            (victim == kNoCpu || queues_[other].size() > queues_[victim].size()))
            victim = other;
    if (victim == kNoCpu) return nullptr;
    RunQueue& queue = queues_[victim];
    for (unsigned i = 0; i < queue.size(); ++i) {
        Entity* entity = queue.at(i);
        if (!allowed(*entity, cpu)) continue;
        queue.remove(entity);
        return entity;
    }
    return nullptr;
}

Entity* Scheduler::pick_next(unsigned cpu) {
    HV_CHECK(cpu < cpus_);
    Entity* next = queues_[cpu].pop_front();
    if (next == nullptr) next = steal_for(cpu);
    if (next == nullptr) return nullptr;
    if (next->cpu != cpu) ++next->migrations;
    next->queued = false;
    next->state = RunState::Running;
    next->cpu = static_cast<u8>(cpu);
    return next;
}

}  // namespace hv::sched
