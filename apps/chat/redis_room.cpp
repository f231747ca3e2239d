#include "redis_room.hpp"

#include "protocol.hpp"

#include <sockserv/base/log.hpp>

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>

namespace chat {

// What the node's handlers and its serving loops share, in shared memory (fixed-size, no pointers).
// Guarded by the room's order(), except `owner`.
struct RedisRoom::Fleet {
    static constexpr std::size_t max_nodes = 256;
    static constexpr std::size_t max_remote_names = 16384;
    static constexpr std::size_t queue_bytes = 256 * 1024;

    struct Node {
        std::uint64_t id;
        std::int64_t last_heard;  // Clock ticks
    };
    struct RemoteName {
        std::array<char, max_name_bytes> name;
        std::uint8_t size;
        std::uint64_t node;
        std::string_view view() const noexcept { return {name.data(), size}; }
    };

    std::atomic<pid_t> owner{0};  // the process whose serving loop holds the link
    bool linked = false;          // the link is up: handlers queue what happens for the others
    std::size_t node_count = 0;
    std::array<Node, max_nodes> nodes;
    std::size_t remote_count = 0;
    std::array<RemoteName, max_remote_names> remote;
    std::uint64_t dropped = 0;  // records the full queue could not take, ever
    std::size_t queued = 0;
    std::array<char, queue_bytes> queue;

    RemoteName* find_remote(std::string_view name) {
        for (std::size_t i = 0; i < remote_count; ++i)
            if (remote[i].view() == name) return &remote[i];
        return nullptr;
    }
    void add_remote(std::string_view name, std::uint64_t node) {
        if (remote_count == max_remote_names || name.size() > max_name_bytes) return;  // a flood of names: not mirrored
        RemoteName& entry = remote[remote_count];
        std::copy(name.begin(), name.end(), entry.name.begin());
        entry.size = static_cast<std::uint8_t>(name.size());
        entry.node = node;
        ++remote_count;
    }
    void remove_remote(std::size_t index) {
        remote[index] = remote[--remote_count];
    }
    Node* find_node(std::uint64_t id) {
        for (std::size_t i = 0; i < node_count; ++i)
            if (nodes[i].id == id) return &nodes[i];
        return nullptr;
    }
};

namespace {

std::int64_t ticks(Room::Clock::time_point t) { return t.time_since_epoch().count(); }

std::uint64_t random_node_id() {
    std::random_device device;
    const std::uint64_t id = (std::uint64_t{device()} << 32) ^ device();
    return id == 0 ? 1 : id;
}

bool alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

}  // namespace

RedisRoomAddress RedisRoomAddress::parse(std::string_view url) {
    constexpr std::string_view scheme = "redis://";
    const auto bad = [&](const std::string& why) {
        return std::invalid_argument("--room " + std::string(url) + ": " + why + " (want redis://HOST[:PORT]/NAME)");
    };
    if (!url.starts_with(scheme)) throw bad("not a redis:// URL");
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) throw bad("no room name");
    std::string_view authority = rest.substr(0, slash);
    RedisRoomAddress where;
    where.name = std::string(rest.substr(slash + 1));
    if (where.name.empty() || where.name.size() > 64 ||
        !std::all_of(where.name.begin(), where.name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }))
        throw bad("the room name must be 1-64 letters, digits, '-', '_' or '.'");
    if (authority.find('@') != std::string_view::npos) throw bad("passwords are not supported");
    std::string_view port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) throw bad("unclosed [");
        where.host = std::string(authority.substr(1, close - 1));
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') throw bad("junk after ]");
            port = authority.substr(close + 2);
        }
    } else {
        const auto colon = authority.rfind(':');
        where.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (where.host.empty()) throw bad("no host");
    if (!port.empty() || authority.ends_with(':')) {
        unsigned value = 0;
        const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) throw bad("bad port");
        where.port = static_cast<std::uint16_t>(value);
    }
    return where;
}

std::string RedisRoomAddress::url() const {
    const bool v6 = host.find(':') != std::string::npos;
    return "redis://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + name;
}

RedisRoom::RedisRoom(Members& members, RedisRoomAddress where, bool verbose, ChatMetrics metrics)
    : LocalRoom(members, std::move(metrics)), where_(std::move(where)), redis_(where_.host, where_.port), verbose_(verbose),
      node_(random_node_id()), fleet_(std::make_unique<sockserv::Shared<Fleet>>()),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!wake_) throw std::system_error(errno, std::generic_category(), "eventfd");
    sockserv::log("chat_server: room " + where_.url() + " on Redis, as node " + nodes::node_text(node_));
}

RedisRoom::~RedisRoom() = default;

Room::Join RedisRoom::join(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
                           Clock::time_point now) {
    Fleet& fleet = **fleet_;
    if (fleet.find_remote(name)) return Join::name_taken;
    // Redis away: the name is ours as far as anyone can tell now (the rosters settle it later).
    if (!fleet.linked) return LocalRoom::join(server, name, address, now);
    const Join result = members().join(name, address, now);
    if (result == Join::again && members().waiting(name)) return Join::pending;  // a resent L: the answer is coming
    if (result != Join::joined) return result;
    // In the room, but answered (and announced here) only once the claim has come back through
    // the channel, or lost to a rival's that came first (see the header).
    metrics().members.add(1);
    members().set_waiting(name, true);
    publish_record(nodes::Joined{std::string(name)});
    return Join::pending;
}

// The name is this member's now: its OK, and the members here hear it joined.
void RedisRoom::admit(sockserv::BaseServer& server, const std::string& name) {
    members().confirm(name);
    if (!members().waiting(name)) return;
    members().set_waiting(name, false);
    const auto address = members().address_of(name);
    if (!address) return;
    const std::string answer = ok();
    server.socket().send_datagrams(std::vector<sockserv::OutgoingDatagram>{{answer, &*address}});
    relay(server, joined(name), *address);
}

bool RedisRoom::has(std::string_view name) const { return LocalRoom::has(name) || (*fleet_)->find_remote(name); }

void RedisRoom::joined_here(std::string_view name) { publish_record(nodes::Joined{std::string(name)}); }
void RedisRoom::left_here(std::string_view name) { publish_record(nodes::Left{std::string(name)}); }
void RedisRoom::said_here(std::string_view name, std::string_view text) {
    publish_record(nodes::Said{std::string(name), std::string(text)});
}
void RedisRoom::announced_here(std::string_view text) { publish_record(nodes::Announced{std::string(text)}); }

// A handler's (or the admin's) share, order() held: queue the record for the serving loop that
// owns the link, and wake it when the queue was empty.
void RedisRoom::publish_record(const nodes::Record& record) {
    Fleet& fleet = **fleet_;
    if (!fleet.linked) return;  // Redis is away: this stays among the members here
    const std::string line = nodes::encode(record);
    if (fleet.queued + line.size() > Fleet::queue_bytes) {
        ++fleet.dropped;
        return;
    }
    std::copy(line.begin(), line.end(), fleet.queue.begin() + static_cast<std::ptrdiff_t>(fleet.queued));
    const bool was_empty = fleet.queued == 0;
    fleet.queued += line.size();
    if (was_empty) {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);  // full only if nobody reads it
    }
}

bool RedisRoom::claim_link() {
    std::atomic<pid_t>& owner = (*fleet_)->owner;
    pid_t current = owner.load();
    if (current == ::getpid()) return true;
    if (alive(current)) return false;
    return owner.compare_exchange_strong(current, ::getpid());
}

void RedisRoom::service_actions(sockserv::BaseServer& server) {
    if (!owner_) {
        if (!claim_link()) return;
        owner_ = true;
        {
            std::lock_guard lock(order());
            (*fleet_)->linked = false;  // a previous owner's queue went with it
            (*fleet_)->queued = 0;
        }
        server.add_reader(wake_.get(), [this] {
            std::uint64_t count;
            [[maybe_unused]] const auto n = ::read(wake_.get(), &count, sizeof count);
        });
        link_ = std::make_unique<RedisLink>(
            redis_, where_.channel(),
            RedisLink::Events{[this, &server] { on_up(server); }, [this, &server](const std::string& why) { on_down(server, why); },
                              [this, &server](std::string_view payload) { on_message(server, payload); }});
    }
    link_->step(server);
    if (!link_->up()) return;
    send_queue(server);
    if (Clock::now() >= next_roster_) send_roster(server);
    expire_nodes(server);
}

std::optional<std::chrono::milliseconds> RedisRoom::service_due() const {
    // Not the owner: look again soon whether the owner is still alive.
    if (!owner_ || !link_) return std::chrono::milliseconds(250);
    auto due = link_->due();
    if (link_->up()) {
        const auto roster = std::chrono::ceil<std::chrono::milliseconds>(next_roster_ - Clock::now());
        const auto soonest = std::max(std::chrono::milliseconds(0), std::min(roster, std::chrono::milliseconds(250)));
        due = due ? std::min(*due, soonest) : soonest;
    }
    return due;
}

void RedisRoom::on_up(sockserv::BaseServer& server) {
    {
        std::lock_guard lock(order());
        Fleet& fleet = **fleet_;
        fleet.linked = true;
        fleet.queued = 0;
        // Nobody was heard while Redis was away: every node gets a fresh deadline.
        for (std::size_t i = 0; i < fleet.node_count; ++i) fleet.nodes[i].last_heard = ticks(Clock::now());
    }
    sockserv::log(was_up_ ? "chat_server: Redis at " + redis_.to_string() + " is back: members here talk with the other nodes again"
                          : "chat_server: joined room " + where_.name + " through Redis at " + redis_.to_string());
    was_up_ = true;
    said_down_ = false;
    send_roster(server);  // the others learn our names now, not in 2 s
}

void RedisRoom::on_down(sockserv::BaseServer& server, const std::string& why) {
    {
        std::lock_guard lock(order());
        (*fleet_)->linked = false;
        (*fleet_)->queued = 0;
        // Joins waiting for the channel will not hear from it: they are this server's, for now.
        for (const Members::Name& member : members().names())
            if (members().waiting(member.name)) {
                members().set_waiting(member.name, false);
                const auto address = members().address_of(member.name);
                const std::string answer = ok();
                server.socket().send_datagrams(std::vector<sockserv::OutgoingDatagram>{{answer, &*address}});
                relay(server, joined(member.name), *address);
            }
    }
    if (said_down_) return;  // once per outage, not once per retry
    said_down_ = true;
    sockserv::log("chat_server: Redis at " + redis_.to_string() + " unreachable (" + why +
                  "): members here keep talking among themselves; retrying");
}

void RedisRoom::send_queue(sockserv::BaseServer& server) {
    std::string records;
    {
        std::lock_guard lock(order());
        Fleet& fleet = **fleet_;
        records.assign(fleet.queue.data(), fleet.queued);
        fleet.queued = 0;
    }
    if (!records.empty()) link_->publish(server, nodes::payload(node_, records));
}

// Problems counted since the last roster: a log line each at most every roster interval.
void RedisRoom::report_problems(std::uint64_t dropped) {
    if (ignored_ > 1 && ignored_ != ignored_reported_) {
        sockserv::log("chat_server: " + std::to_string(ignored_ - std::max<std::uint64_t>(ignored_reported_, 1)) + " more messages on " +
                      where_.channel() + " ignored: not from a chat_server");
        ignored_reported_ = ignored_;
    }
    if (dropped != dropped_reported_) {
        sockserv::log("chat_server: " + std::to_string(dropped - dropped_reported_) +
                      " lines not sent to the other nodes: the queue to Redis was full");
        dropped_reported_ = dropped;
    }
}

void RedisRoom::send_roster(sockserv::BaseServer& server) {
    nodes::Roster roster;
    std::uint64_t dropped;
    {
        std::lock_guard lock(order());
        for (const Members::Name& member : members().names()) roster.members.push_back({member.name, member.confirmed});
        dropped = (*fleet_)->dropped;
    }
    report_problems(dropped);
    next_roster_ = Clock::now() + roster_interval;
    link_->publish(server, nodes::payload(node_, nodes::encode(roster)));
}

void RedisRoom::on_message(sockserv::BaseServer& server, std::string_view payload) {
    auto decoded = nodes::decode(payload);
    if (auto* error = std::get_if<std::string>(&decoded)) {
        // Someone else publishing on the channel: said once, then counted (a flood of junk must
        // not become a flood of log lines).
        if (ignored_++ == 0) sockserv::log("chat_server: ignored a message on " + where_.channel() + " that no chat_server sent: " + *error);
        return;
    }
    const nodes::Message& message = std::get<nodes::Message>(decoded);
    std::lock_guard lock(order());
    if (message.node == node_) {
        // Our own claims, back in the channel's order: from now on no earlier claim can exist.
        for (const nodes::Record& record : message.records) {
            if (const auto* joined = std::get_if<nodes::Joined>(&record)) admit(server, joined->name);
            if (const auto* roster = std::get_if<nodes::Roster>(&record))
                for (const auto& entry : roster->members) admit(server, entry.name);
        }
        return;
    }
    Fleet& fleet = **fleet_;
    Fleet::Node* node = fleet.find_node(message.node);
    if (!node) {
        if (fleet.node_count == Fleet::max_nodes) return;
        node = &fleet.nodes[fleet.node_count++];
        node->id = message.node;
    }
    node->last_heard = ticks(Clock::now());
    for (const nodes::Record& record : message.records) apply(server, message.node, record);
}

void RedisRoom::apply(sockserv::BaseServer& server, std::uint64_t from, const nodes::Record& record) {
    Fleet& fleet = **fleet_;
    const auto holder = [&](const std::string& name) -> std::uint64_t {  // 0: nobody; node_: here
        if (members().has(name)) return node_;
        const Fleet::RemoteName* entry = fleet.find_remote(name);
        return entry ? entry->node : 0;
    };
    if (const auto* r = std::get_if<nodes::Joined>(&record)) {
        claim_name(server, from, r->name, false);
    } else if (const auto* r = std::get_if<nodes::Left>(&record)) {
        for (std::size_t i = 0; i < fleet.remote_count; ++i)
            if (fleet.remote[i].view() == r->name && fleet.remote[i].node == from) {
                fleet.remove_remote(i);
                relay(server, left(r->name), sockserv::Address{});
                break;
            }
    } else if (const auto* r = std::get_if<nodes::Said>(&record)) {
        // Relayed unless the name is someone else's (a member that lost its name to a rival
        // claim speaks until its node hears of the loss).
        const std::uint64_t by = holder(r->name);
        if (by == from || by == 0) relay(server, said(r->name, r->text), sockserv::Address{});
    } else if (const auto* r = std::get_if<nodes::Announced>(&record)) {
        relay(server, announcement(r->text), sockserv::Address{});
    } else if (const auto* r = std::get_if<nodes::Roster>(&record)) {
        std::vector<std::string> listed;
        for (const auto& entry : r->members) listed.push_back(entry.name);
        drop_node_names(server, from, &listed);
        for (const auto& entry : r->members) claim_name(server, from, entry.name, entry.confirmed);
    }
}

// Node `from` claims name; every node decides alike (see the header): the first claim the channel
// delivered wins, and between two confirmed ones the lower node id.
void RedisRoom::claim_name(sockserv::BaseServer& server, std::uint64_t from, const std::string& name, bool confirmed) {
    Fleet& fleet = **fleet_;
    if (members().has(name)) {
        const bool ours_stands = members().confirmed(name) && !(confirmed && from < node_);
        if (ours_stands) return;
        // Not yet answered: the join is simply refused, as if the name had been known. Already a
        // member (a name granted on two nodes while Redis was away): it loses it, and says so.
        const bool answered = !members().waiting(name);
        const auto address = members().remove(name);
        if (address) {
            metrics().members.sub(1);
            const std::string refused = refusal(answered ? "name is taken (on another server)" : "name is taken");
            server.socket().send_datagrams(std::vector<sockserv::OutgoingDatagram>{{refused, &*address}});
        }
        if (verbose_) sockserv::log("chat_server: " + name + " refused: another node had the name first");
        if (answered) relay(server, left(name), sockserv::Address{});
        fleet.add_remote(name, from);
        relay(server, joined(name), sockserv::Address{});
        return;
    }
    if (Fleet::RemoteName* entry = fleet.find_remote(name)) {
        if (entry->node != from && confirmed && from < entry->node) entry->node = from;
        return;
    }
    fleet.add_remote(name, from);
    relay(server, joined(name), sockserv::Address{});
}

// Node's names that are not in keep (all of them, without keep) leave.
void RedisRoom::drop_node_names(sockserv::BaseServer& server, std::uint64_t node, const std::vector<std::string>* keep) {
    Fleet& fleet = **fleet_;
    for (std::size_t i = 0; i < fleet.remote_count;) {
        const Fleet::RemoteName& entry = fleet.remote[i];
        const bool kept = keep && std::find(keep->begin(), keep->end(), entry.view()) != keep->end();
        if (entry.node != node || kept) {
            ++i;
            continue;
        }
        const std::string name(entry.view());
        fleet.remove_remote(i);
        relay(server, left(name), sockserv::Address{});
    }
}

void RedisRoom::expire_nodes(sockserv::BaseServer& server) {
    std::lock_guard lock(order());
    Fleet& fleet = **fleet_;
    const std::int64_t limit =
        ticks(Clock::now()) - std::chrono::duration_cast<Clock::duration>(roster_interval * missed_rosters).count();
    for (std::size_t i = 0; i < fleet.node_count;) {
        if (fleet.nodes[i].last_heard >= limit) {
            ++i;
            continue;
        }
        const std::uint64_t gone = fleet.nodes[i].id;
        fleet.nodes[i] = fleet.nodes[--fleet.node_count];
        if (verbose_) sockserv::log("chat_server: node " + nodes::node_text(gone) + " silent for 6 s: its members are gone");
        drop_node_names(server, gone, nullptr);
    }
}

}  // namespace chat
