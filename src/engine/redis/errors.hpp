// What an error reply says about the command that got it: the one place the rule "resend only
// what did not run" lives. Pure; tests/engine/redis/errors_test.cpp.
//
// Connection applies it to every reply batch:
//  - value: a definitive answer (including error replies such as WRONGTYPE): given to the caller.
//  - missing_script (NOSCRIPT): did not run; the eval helpers load the script and resend.
//  - not_run (LOADING, BUSY, MASTERDOWN, NOREPLICAS, TRYAGAIN, CLUSTERDOWN): did not run, the
//    node cannot serve it now; the call fails with unavailable (503), nothing is resent.
//  - wrong_node (READONLY, MOVED, ASK): did not run, this is not the node for it (under
//    Sentinel: the master was demoted); the call fails with unavailable and the link is torn
//    down so the next connection asks the sentinels again.
// A command that was sent and got no reply (timeout, reset) has an unknown outcome: it is never
// resent (may_resend_unanswered is false for every script today; docs/redis.md).
#pragma once

#include "latchkey/redis/reply.hpp"

namespace latchkey::redis {

enum class ReplyClass { value, missing_script, not_run, wrong_node };

ReplyClass classify(const Reply& r) noexcept;
// The worst class in a batch (wrong_node > not_run > missing_script > value).
ReplyClass classify(const Replies& rs) noexcept;

}  // namespace latchkey::redis
