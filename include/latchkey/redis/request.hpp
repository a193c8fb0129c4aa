// A request: a buffer of one or more RESP commands, separate from any connection. Sending
// one command, a pipeline or a script call is the same operation on a connection: the
// connection writes the buffer and collects exactly `size()` replies, in order.
// Commands are encoded here directly (no printf, no temporary argv arrays); a unit test
// checks the bytes against hiredis's redisFormatCommandArgv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <initializer_list>

namespace latchkey::redis {

class Request {
 public:
  Request() = default;
  Request(std::initializer_list<std::string_view> args) { push(args); }

  // Appends one command; args[0] is the command name.
  Request& push(std::initializer_list<std::string_view> args);
  Request& push(const std::vector<std::string_view>& args);
  Request& push(const std::vector<std::string>& args);

  // Incremental form: begin(n) then exactly n arg() calls make one command.
  Request& begin(std::size_t argc);
  Request& arg(std::string_view a);
  // An argument that is a key: written as arg() is, and its hash slot recorded, so the
  // request knows where it must go (Redis Cluster routes by it; a request whose keys span
  // slots cannot be sent to one node as it is).
  Request& key(std::string_view k);

  // Sends a keyless request (WAIT after a write) to the node serving `slot`, as a key of that
  // slot would.
  Request& route_by_slot(std::uint16_t slot);
  // The slot of the keys named so far; nullopt when none was (TIME, WAIT, ...).
  std::optional<std::uint16_t> slot() const noexcept { return slot_; }
  // Its commands name keys of several slots: a cluster sends each run of commands of one slot
  // to its node, in order (a pipeline is never atomic anyway).
  bool spans_slots() const noexcept { return spans_slots_; }
  // One command names keys of two slots: no node can run it (CROSSSLOT); a bug.
  bool command_spans_slots() const noexcept { return command_spans_; }
  // The slot of command `i` (keyless commands: nullopt).
  std::optional<std::uint16_t> command_slot(std::size_t i) const noexcept;
  // Command `i` named no key (TIME, WAIT, ...): any node answers it, so its reply never
  // says where the request belongs. Known for the first 64 commands (later ones: false).
  bool keyless(std::size_t i) const noexcept { return i < 64 && !((keyed_ >> i) & 1U); }
  // Bit i set: command i is keyless (the first 64).
  std::uint64_t keyless_mask() const noexcept {
    return commands_ >= 64 ? ~keyed_ : (~keyed_ & ((std::uint64_t{1} << commands_) - 1));
  }
  // A request of already-encoded commands (the router's resend with ASKING, or one run of a
  // split pipeline); no slot. `keyless_mask` as keyless_mask() gives it.
  static Request from_payload(std::string payload, std::size_t commands, std::uint64_t keyless_mask = 0);

  std::size_t size() const noexcept { return commands_; }
  const std::string& payload() const noexcept { return payload_; }
  std::string take_payload() noexcept { return std::move(payload_); }
  bool empty() const noexcept { return commands_ == 0; }

 private:
  template <class It>
  Request& push_range(It first, It last, std::size_t n);
  std::string payload_;
  std::size_t commands_ = 0;
  void note_slot(std::uint16_t s);
  std::optional<std::uint16_t> slot_;
  std::optional<std::uint16_t> current_;  // the slot of the command being built
  bool spans_slots_ = false;
  bool command_spans_ = false;
  // Once the request spans slots: each command's slot (kNoSlot for keyless ones); empty before.
  static constexpr std::int32_t kNoSlot = -1;
  std::vector<std::int32_t> per_command_;
  std::uint64_t keyed_ = 0;  // bit i: command i named a key
};

}  // namespace latchkey::redis
