// SPDX-License-Identifier: MIT
// Run queues and scheduling decisions: FIFO order, yield to the tail, block and wake, affinity,
// placement, stealing by an idle pCPU, take_down, the cpus= list parser.
#include "hv/sched/scheduler.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace hv::sched {
namespace {

struct SchedulerTest : ::testing::Test {
    Scheduler s{};
    Entity e[6]{};
    void SetUp() override {
        std::memset(static_cast<void*>(&s), 0, sizeof s);
        s.init(2);
    }
    // Down -> Runnable on `cpu`, then picked there.
    void run_on(Entity& entity, unsigned cpu) {
        entity.cpu = static_cast<u8>(cpu);
        ASSERT_EQ(s.wake(entity), cpu);
        ASSERT_EQ(s.pick_next(cpu), &entity);
    }
};

TEST_F(SchedulerTest, QueueIsFifo) {
    for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(s.wake(e[i]), 0u);
    EXPECT_EQ(s.queued(0), 3u);
    for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(s.pick_next(0), &e[i]);
    EXPECT_EQ(s.pick_next(0), nullptr);
    EXPECT_EQ(e[0].state, RunState::Running);
}

TEST_F(SchedulerTest, YieldGoesToTheTail) {
    run_on(e[0], 0);
    EXPECT_EQ(s.wake(e[1]), 0u);
    s.requeue(e[0]);
    EXPECT_EQ(s.pick_next(0), &e[1]);
    s.requeue(e[1]);
    EXPECT_EQ(s.pick_next(0), &e[0]) << "ping-pong on one pCPU";
}

TEST_F(SchedulerTest, YieldAloneRunsAgain) {
    run_on(e[0], 0);
    s.requeue(e[0]);
    EXPECT_EQ(s.pick_next(0), &e[0]);
}

TEST_F(SchedulerTest, BlockAndWake) {
    run_on(e[0], 1);
    s.block(e[0]);
    EXPECT_EQ(e[0].state, RunState::Blocked);
    EXPECT_EQ(s.pick_next(1), nullptr);
    EXPECT_EQ(s.wake(e[0]), 1u) << "back where it last ran (its state may be loaded there)";
    EXPECT_EQ(s.wake(e[0]), kNoCpu) << "a second wake does nothing";
    EXPECT_EQ(s.pick_next(1), &e[0]);
    EXPECT_EQ(s.wake(e[0]), kNoCpu) << "running: nothing to wake";
}

TEST_F(SchedulerTest, AffinityIsRespected) {
    e[0].affinity = 0b10;
    e[0].cpu = 0;
    EXPECT_EQ(s.wake(e[0]), 1u) << "its last pCPU is not allowed";
    EXPECT_EQ(s.pick_next(0), nullptr) << "pCPU 0 may not steal it";
    EXPECT_EQ(s.pick_next(1), &e[0]);
    e[1].affinity = 0b100;  // only a pCPU that does not exist
    EXPECT_EQ(s.wake(e[1]), kNoCpu);
    EXPECT_EQ(e[1].state, RunState::Down);
}

TEST_F(SchedulerTest, PlaceChoosesTheShortestAllowedQueue) {
    EXPECT_EQ(s.wake(e[0]), 0u);
    EXPECT_EQ(s.wake(e[1]), 0u);
    EXPECT_EQ(s.place(e[2], 0), 1u);
    EXPECT_EQ(s.place(e[2], 1), 1u);
    e[2].affinity = 0b01;
    EXPECT_EQ(s.place(e[2], 1), 0u);
}

TEST_F(SchedulerTest, IdlePcpuStealsAndCountsTheMigration) {
    for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(s.wake(e[i]), 0u);
    EXPECT_EQ(s.pick_next(1), &e[0]) << "idle pCPU 1 takes the head of pCPU 0's queue";
    EXPECT_EQ(e[0].cpu, 1u);
    EXPECT_EQ(e[0].migrations, 1u);
    EXPECT_EQ(s.queued(0), 2u);
    e[1].affinity = 0b01;
    EXPECT_EQ(s.pick_next(1), &e[2]) << "skips the one pinned to pCPU 0";
    EXPECT_EQ(s.pick_next(1), nullptr);
    EXPECT_EQ(s.pick_next(0), &e[1]);
}

TEST_F(SchedulerTest, TakeDownLeavesEveryQueue) {
    EXPECT_EQ(s.wake(e[0]), 0u);
    EXPECT_EQ(s.wake(e[1]), 0u);
    s.take_down(e[0]);
    EXPECT_EQ(e[0].state, RunState::Down);
    EXPECT_FALSE(e[0].queued);
    EXPECT_EQ(s.pick_next(0), &e[1]);
    s.take_down(e[1]);  // running
    EXPECT_EQ(e[1].state, RunState::Down);
    EXPECT_EQ(s.wake(e[1]), 0u) << "VCPUOP_up again";
}

TEST(RunQueue, RemoveKeepsOrderAndWraps) {
    RunQueue q{};
    Entity e[kQueueCapacity + 1]{};
    for (unsigned round = 0; round < 3; ++round) {  // wrap the ring
        for (unsigned i = 0; i < kQueueCapacity; ++i) ASSERT_TRUE(q.push_back(&e[i]));
        EXPECT_FALSE(q.push_back(&e[kQueueCapacity]));
        EXPECT_TRUE(q.remove(&e[5]));
        EXPECT_FALSE(q.remove(&e[5]));
        for (unsigned i = 0; i < kQueueCapacity; ++i)
            if (i != 5) {
                ASSERT_EQ(q.pop_front(), &e[i]);
            }
        EXPECT_EQ(q.pop_front(), nullptr);
        ASSERT_TRUE(q.push_back(&e[0]));
        EXPECT_EQ(q.pop_front(), &e[0]);
    }
}

u32 cpus(const char* text) {
    u32 mask = 0xdead;
    const Status status = parse_cpu_list(cmdline::Token{text, std::strlen(text)}, &mask);
    return status == Status::Ok ? mask : 0;
}

TEST(CpuList, Parses) {
    EXPECT_EQ(cpus("0"), 0b1u);
    EXPECT_EQ(cpus("0-3"), 0b1111u);
    EXPECT_EQ(cpus("1,3"), 0b1010u);
    EXPECT_EQ(cpus("0,2-3,7"), 0b10001101u);
    EXPECT_EQ(cpus(""), 0u);
    EXPECT_EQ(cpus("8"), 0u) << "beyond kMaxCpus";
    EXPECT_EQ(cpus("3-1"), 0u);
    EXPECT_EQ(cpus("1,"), 0u);
    EXPECT_EQ(cpus("a"), 0u);
    EXPECT_EQ(cpus("0-99"), 0u);
    EXPECT_EQ(cpus("0001"), 0u) << "at most 3 digits, and still below 8";
}

TEST(PinList, Parses) {
    PinList pins{};
    EXPECT_EQ(parse_pin_list(cmdline::Token{"0,1,1", 5}, &pins), Status::Ok);
    ASSERT_EQ(pins.count, 3u);
    EXPECT_EQ(pins.cpu[0], 0u);
    EXPECT_EQ(pins.cpu[2], 1u);
    EXPECT_EQ(parse_pin_list(cmdline::Token{"0,", 2}, &pins), Status::InvalidArgument);
    EXPECT_EQ(parse_pin_list(cmdline::Token{"9", 1}, &pins), Status::InvalidArgument);
    EXPECT_EQ(parse_pin_list(cmdline::Token{"0,1,2,3,4,5,6,7,0", 17}, &pins), Status::InvalidArgument) << "9 entries";
}

}  // namespace
}  // namespace hv::sched
