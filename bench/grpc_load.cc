// grpc_load: a lean closed-loop gRPC load generator sending pre-serialized
// requests through gRPC C++'s generic API (no generated code), so that on a
// small machine the client costs a fraction of what the server under test
// does. Built on demand by bench/harness.py (build_grpc_load) into
// var/bench/grpc_load:
//
//   g++ -O2 -std=c++17 -pthread bench/grpc_load.cc -o var/bench/grpc_load
//       $(pkg-config --cflags --libs grpc++ protobuf)
//
// Debian: apt-get install -y libgrpc++-dev protobuf-compiler-grpc pkg-config
//
// usage: grpc_load --target HOST:PORT --input FILE (--once | --cycle)
//          [--method /pkg.Service/Method]  (required for a plain input file)
//          [--concurrency 64] [--connections 1] [--threads 1]
//          [--duration S] [--count N] [--warmup S] [--timeout S]
//          [--tally-field N] [--announce]
//
// Input file, either of:
//   plain:   records of [u32 big-endian length][serialized request], all sent
//            to --method;
//   methods: "GLD1", u16 BE method count M, M x ([u16 BE length][method path]),
//            then records of [u16 BE method index][u32 BE length][request].
//   All integers big-endian; a plain file cannot start with "GLD1" (that
//   would be a 1.2 GB first record).
//
// Modes:
//   --once   each record is sent exactly once, in file order; no new call is
//            started after the records run out, --count calls were started
//            after the warm-up, or --duration seconds after the warm-up; the
//            run ends when every started call has completed. For event
//            ingestion, where every request carries its own id.
//   --cycle  records are sent in file order, round and round; needs
//            --duration or --count.
//
// The first --warmup seconds (default 1) are not measured: calls completing
// in them are reported under "warmup". Measured: every call completing after
// the warm-up; "seconds" runs from the end of the warm-up to the last
// completion. Latency percentiles are over the measured OK calls. CPU is
// this process's getrusage (all threads, including gRPC's own) over the
// measured phase. --announce prints a line "measuring" when the warm-up ends
// (so a caller can sample the server's CPU over exactly the measured phase).
// --tally-field N counts, over OK replies, the value of the top-level varint
// field N of the response (0 when absent): e.g. EventAck.replayed (2) or
// CheckLoginResponse.verdict (2).
//
// Output: one JSON line on stdout. Exit status 0 when it ran (even with RPC
// errors: see "errors"), 2 on bad usage or input, 3 when it cannot connect.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(int code, const std::string& msg) {
  std::fprintf(stderr, "grpc_load: %s\n", msg.c_str());
  std::exit(code);
}

struct Options {
  std::string target;
  std::string input;
  std::string method;
  bool once = false;
  bool cycle = false;
  int concurrency = 64;
  int connections = 1;
  int threads = 1;
  double duration = 0;
  long long count = 0;
  double warmup = 1;
  double timeout = 0;
  int tally_field = 0;
  bool announce = false;
};

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(2, "missing value for " + a);
      return argv[++i];
    };
    try {
      if (a == "--target") o.target = value();
      else if (a == "--input") o.input = value();
      else if (a == "--method") o.method = value();
      else if (a == "--once") o.once = true;
      else if (a == "--cycle") o.cycle = true;
      else if (a == "--concurrency") o.concurrency = std::stoi(value());
      else if (a == "--connections") o.connections = std::stoi(value());
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--duration") o.duration = std::stod(value());
      else if (a == "--count") o.count = std::stoll(value());
      else if (a == "--warmup") o.warmup = std::stod(value());
      else if (a == "--timeout") o.timeout = std::stod(value());
      else if (a == "--tally-field") o.tally_field = std::stoi(value());
      else if (a == "--announce") o.announce = true;
      else die(2, "unknown argument " + a);
    } catch (const std::logic_error&) {
      die(2, "bad value for " + a);
    }
  }
  if (o.target.empty() || o.input.empty()) die(2, "--target and --input are required");
  if (o.once == o.cycle) die(2, "give exactly one of --once, --cycle");
  if (o.cycle && o.duration <= 0 && o.count <= 0) die(2, "--cycle needs --duration or --count");
  if (o.concurrency < 1 || o.connections < 1 || o.threads < 1) die(2, "counts must be >= 1");
  if (o.threads > o.concurrency) o.threads = o.concurrency;
  return o;
}

// ---------------------------------------------------------------- input

struct Input {
  std::string data;                    // the whole file; slices point into it
  std::vector<std::string> methods;
  std::vector<uint16_t> method_of;     // per record
  std::vector<grpc::ByteBuffer> requests;
};

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
uint16_t be16(const unsigned char* p) { return uint16_t((p[0] << 8) | p[1]); }

void load_input(const Options& o, Input& in) {
  std::ifstream f(o.input, std::ios::binary);
  if (!f) die(2, "cannot read " + o.input);
  in.data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data.data());
  size_t n = in.data.size(), off = 0;
  bool indexed = n >= 4 && std::memcmp(p, "GLD1", 4) == 0;
  if (indexed) {
    if (n < 6) die(2, "truncated header");
    unsigned m = be16(p + 4);
    off = 6;
    for (unsigned k = 0; k < m; ++k) {
      if (off + 2 > n) die(2, "truncated header");
      unsigned len = be16(p + off);
      if (off + 2 + len > n) die(2, "truncated header");
      in.methods.emplace_back(in.data.data() + off + 2, len);
      off += 2 + len;
    }
    if (in.methods.empty()) die(2, "no methods in header");
  } else {
    if (o.method.empty()) die(2, "a plain input file needs --method");
    in.methods.push_back(o.method);
  }
  while (off < n) {
    uint16_t mi = 0;
    if (indexed) {
      if (off + 2 > n) die(2, "truncated record");
      mi = be16(p + off);
      off += 2;
      if (mi >= in.methods.size()) die(2, "method index out of range");
    }
    if (off + 4 > n) die(2, "truncated record");
    uint32_t len = be32(p + off);
    off += 4;
    if (off + len > n) die(2, "truncated record");
    // A static slice: no copy, the file's buffer outlives every call.
    grpc::Slice s(in.data.data() + off, len, grpc::Slice::STATIC_SLICE);
    in.requests.emplace_back(&s, 1);
    in.method_of.push_back(mi);
    off += len;
  }
  if (in.requests.empty()) die(2, "no records in " + o.input);
}

// ---------------------------------------------------------------- stats

constexpr int kCodes = 17;
const char* const kCodeNames[kCodes] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED"};

struct Phase {
  uint64_t codes[kCodes] = {};
  std::map<uint64_t, uint64_t> tally;
  std::vector<uint64_t> ok_by_method;
  void merge(const Phase& o) {
    for (int k = 0; k < kCodes; ++k) codes[k] += o.codes[k];
    for (auto& [v, c] : o.tally) tally[v] += c;
    if (ok_by_method.size() < o.ok_by_method.size()) ok_by_method.resize(o.ok_by_method.size());
    for (size_t k = 0; k < o.ok_by_method.size(); ++k) ok_by_method[k] += o.ok_by_method[k];
  }
  uint64_t errors() const {
    uint64_t e = 0;
    for (int k = 1; k < kCodes; ++k) e += codes[k];
    return e;
  }
};

// Top-level varint field `field` of a serialized message; 0 when absent.
uint64_t varint_field(const grpc::ByteBuffer& bb, int field) {
  std::vector<grpc::Slice> slices;
  if (!bb.Dump(&slices).ok()) return 0;
  std::string joined;
  const unsigned char *p, *end;
  if (slices.size() == 1) {
    p = slices[0].begin();
    end = slices[0].end();
  } else {
    for (auto& s : slices) joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
    p = reinterpret_cast<const unsigned char*>(joined.data());
    end = p + joined.size();
  }
  auto varint = [&](uint64_t& v) -> bool {
    v = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      unsigned char b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  uint64_t found = 0, key, v;
  while (p < end) {
    if (!varint(key)) break;
    int num = int(key >> 3), wt = int(key & 7);
    if (wt == 0) {
      if (!varint(v)) break;
      if (num == field) found = v;  // last one wins, as in protobuf
    } else if (wt == 1) {
      p += 8;
    } else if (wt == 2) {
      if (!varint(v) || v > uint64_t(end - p)) break;
      p += v;
    } else if (wt == 5) {
      p += 4;
    } else {
      break;
    }
  }
  return found;
}

// ---------------------------------------------------------------- load

struct Call {
  grpc::ClientContext ctx;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> rpc;
  Clock::time_point t0;
  uint32_t record = 0;
};

struct Shared {
  const Options* opt;
  const Input* in;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  Clock::time_point warm_end, stop_at;
  std::atomic<uint64_t> next{0};            // next record sequence number
  std::atomic<long long> measured_started{0};
  std::atomic<bool> exhausted{false};
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
};

struct Worker {
  Shared* sh;
  grpc::CompletionQueue cq;
  unsigned rr = 0;
  int inflight = 0;
  Phase warm, measured;
  std::vector<uint32_t> latencies_us;  // measured OK calls
  Clock::time_point last_done{};

  bool start_call(Clock::time_point now) {
    const Options& o = *sh->opt;
    if (o.duration > 0 && now >= sh->stop_at) return false;
    if (o.count > 0 && now >= sh->warm_end &&
        sh->measured_started.fetch_add(1, std::memory_order_relaxed) >= o.count)
      return false;
    uint64_t seq = sh->next.fetch_add(1, std::memory_order_relaxed);
    size_t n = sh->in->requests.size();
    if (o.once && seq >= n) {
      sh->exhausted.store(true, std::memory_order_relaxed);
      return false;
    }
    auto* c = new Call;
    c->record = uint32_t(seq % n);
    if (o.timeout > 0)
      c->ctx.set_deadline(gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_micros(int64_t(o.timeout * 1e6), GPR_TIMESPAN)));
    auto& stub = *sh->stubs[rr++ % sh->stubs.size()];
    c->t0 = now;
    c->rpc = stub.PrepareUnaryCall(&c->ctx, sh->in->methods[sh->in->method_of[c->record]],
                                   sh->in->requests[c->record], &cq);
    c->rpc->StartCall();
    c->rpc->Finish(&c->response, &c->status, c);
    ++inflight;
    return true;
  }

  void done(Call* c, Clock::time_point now) {
    bool in_window = now >= sh->warm_end;
    Phase& ph = in_window ? measured : warm;
    int code = int(c->status.error_code());
    if (code < 0 || code >= kCodes) code = 2;  // UNKNOWN
    ph.codes[code]++;
    if (code == 0) {
      ph.ok_by_method[sh->in->method_of[c->record]]++;
      if (sh->opt->tally_field > 0) ph.tally[varint_field(c->response, sh->opt->tally_field)]++;
      if (in_window) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c->t0).count();
        latencies_us.push_back(uint32_t(std::min<int64_t>(us, UINT32_MAX)));
      }
    }
    if (in_window) last_done = now;
  }

  void run(int slots) {
    warm.ok_by_method.assign(sh->in->methods.size(), 0);
    measured.ok_by_method.assign(sh->in->methods.size(), 0);
    latencies_us.reserve(1 << 16);
    auto now = Clock::now();
    for (int k = 0; k < slots; ++k)
      if (!start_call(now)) break;
    void* tag;
    bool ok;
    while (inflight > 0 && cq.Next(&tag, &ok)) {
      auto* c = static_cast<Call*>(tag);
      now = Clock::now();
      done(c, now);
      delete c;
      --inflight;
      start_call(now);
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    std::lock_guard<std::mutex> lk(sh->mu);
    if (--sh->running == 0) sh->cv.notify_all();
  }
};

double cpu_of(const rusage& r, bool user) {
  const timeval& t = user ? r.ru_utime : r.ru_stime;
  return double(t.tv_sec) + double(t.tv_usec) / 1e6;
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string codes_json(const Phase& ph) {
  std::string out = "{";
  for (int k = 1; k < kCodes; ++k) {
    if (!ph.codes[k]) continue;
    if (out.size() > 1) out += ",";
    out += json_str(kCodeNames[k]) + ":" + std::to_string(ph.codes[k]);
  }
  return out + "}";
}

std::string tally_json(const Phase& ph) {
  std::string out = "{";
  for (auto& [v, c] : ph.tally) {
    if (out.size() > 1) out += ",";
    out += "\"" + std::to_string(v) + "\":" + std::to_string(c);
  }
  return out + "}";
}

std::string by_method_json(const Phase& ph, const Input& in) {
  std::string out = "{";
  for (size_t k = 0; k < in.methods.size(); ++k) {
    if (k) out += ",";
    out += json_str(in.methods[k]) + ":" + std::to_string(ph.ok_by_method[k]);
  }
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);
  Input in;
  load_input(opt, in);

  Shared sh;
  sh.opt = &opt;
  sh.in = &in;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int k = 0; k < opt.connections; ++k) {
    grpc::ChannelArguments args;
    // One TCP connection per channel: no subchannel sharing between them
    // (with `serve --workers N` the kernel spreads connections over workers).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("grpc_load.channel", k);
    args.SetMaxReceiveMessageSize(-1);
    // Less per-call work in the client: no retry buffering, no channelz
    // accounting, the minimal filter stack (deadlines still apply).
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
    if (!std::getenv("GRPC_LOAD_FULL_STACK")) args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    auto ch = grpc::CreateCustomChannel(opt.target, grpc::InsecureChannelCredentials(), args);
    if (!ch->WaitForConnected(gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                           gpr_time_from_seconds(10, GPR_TIMESPAN))))
      die(3, "cannot connect to " + opt.target);
    channels.push_back(ch);
    sh.stubs.push_back(std::make_unique<grpc::GenericStub>(ch));
  }

  rusage r0, r1, r2;
  getrusage(RUSAGE_SELF, &r0);
  auto t_start = Clock::now();
  sh.warm_end = t_start + std::chrono::microseconds(int64_t(opt.warmup * 1e6));
  sh.stop_at = sh.warm_end + std::chrono::microseconds(int64_t(opt.duration * 1e6));

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  sh.running = opt.threads;
  for (int k = 0; k < opt.threads; ++k) {
    workers.push_back(std::make_unique<Worker>());
    workers.back()->sh = &sh;
  }
  for (int k = 0; k < opt.threads; ++k) {
    int slots = opt.concurrency / opt.threads + (k < opt.concurrency % opt.threads ? 1 : 0);
    threads.emplace_back([w = workers[k].get(), slots] { w->run(slots); });
  }
  {
    std::unique_lock<std::mutex> lk(sh.mu);
    sh.cv.wait_until(lk, sh.warm_end, [&] { return sh.running == 0; });
  }
  getrusage(RUSAGE_SELF, &r1);
  if (opt.announce) {
    std::printf("measuring\n");
    std::fflush(stdout);
  }
  for (auto& t : threads) t.join();
  getrusage(RUSAGE_SELF, &r2);

  Phase warm, measured;
  warm.ok_by_method.assign(in.methods.size(), 0);
  measured.ok_by_method.assign(in.methods.size(), 0);
  std::vector<uint32_t> lat;
  Clock::time_point last = sh.warm_end;
  for (auto& w : workers) {
    warm.merge(w->warm);
    measured.merge(w->measured);
    lat.insert(lat.end(), w->latencies_us.begin(), w->latencies_us.end());
    last = std::max(last, w->last_done);
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) -> double {
    if (lat.empty()) return 0;
    size_t i = std::min(lat.size() - 1, size_t(q * double(lat.size())));
    return lat[i] / 1000.0;
  };
  double seconds = std::chrono::duration<double>(last - sh.warm_end).count();
  uint64_t ok = measured.codes[0], errors = measured.errors();
  double cpu_user = cpu_of(r2, true) - cpu_of(r1, true);
  double cpu_sys = cpu_of(r2, false) - cpu_of(r1, false);
  double cpu = cpu_user + cpu_sys;
  double cpu_total = cpu_of(r2, true) + cpu_of(r2, false) - cpu_of(r0, true) - cpu_of(r0, false);
  uint64_t records_sent = std::min<uint64_t>(sh.next.load(), opt.once ? in.requests.size() : UINT64_MAX);

  std::printf(
      "{\"mode\":\"%s\",\"target\":%s,\"concurrency\":%d,\"connections\":%d,\"threads\":%d,"
      "\"records\":%zu,\"sent\":%llu,\"exhausted\":%s,"
      "\"ok\":%llu,\"errors\":%s,\"seconds\":%.3f,\"throughput\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"cpu_seconds\":%.3f,\"cpu_user\":%.3f,\"cpu_system\":%.3f,\"cpu_cores\":%.3f,"
      "\"cpu_us_per_request\":%.2f,\"cpu_seconds_total\":%.3f,"
      "\"ok_by_method\":%s,\"tally\":%s,"
      "\"warmup\":{\"seconds\":%.3f,\"ok\":%llu,\"errors\":%s,\"tally\":%s}}\n",
      opt.once ? "once" : "cycle", json_str(opt.target).c_str(), opt.concurrency,
      opt.connections, opt.threads, in.requests.size(), (unsigned long long)records_sent,
      sh.exhausted.load() ? "true" : "false", (unsigned long long)ok,
      codes_json(measured).c_str(), seconds, seconds > 0 ? double(ok) / seconds : 0.0,
      pct(0.50), pct(0.99), lat.empty() ? 0.0 : lat.back() / 1000.0, cpu, cpu_user, cpu_sys,
      seconds > 0 ? cpu / seconds : 0.0, (ok + errors) ? cpu / double(ok + errors) * 1e6 : 0.0,
      cpu_total, by_method_json(measured, in).c_str(), tally_json(measured).c_str(),
      opt.warmup, (unsigned long long)warm.codes[0], codes_json(warm).c_str(),
      tally_json(warm).c_str());
  std::fflush(stdout);
  return 0;
}
