// Pickle virtual machine after CPython's Lib/pickletools.py opcode table, restricted to plain data and the
// PyTorch tensor-rebuild calls (see pickle.h); anything else is an error, never a call.
#include "formats/pickle.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "formats/tensor_dtype.h"

namespace resr::formats::pickle {
namespace {

constexpr std::size_t kMaxObjects = std::size_t{1} << 22;
constexpr std::size_t kMaxString = std::size_t{64} << 20;
constexpr std::size_t kMaxMemo = std::size_t{1} << 22;
constexpr int kMaxDims = 8;

std::string hex_byte(std::uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

bool is_allowed_callable(const std::string& g) {
  return g == "collections.OrderedDict" || g == "torch._utils._rebuild_tensor_v2" ||
         g == "torch._utils._rebuild_tensor" || g == "torch._utils._rebuild_parameter" ||
         g == "torch._utils._rebuild_parameter_with_state";
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kGlobal:
      return "global";
    case Kind::kStorage:
      return "storage";
    case Kind::kTensor:
      return "tensor";
  }
  return "?";
}

Object* Unpickler::make(Kind k) {
  if (arena_.size() >= kMaxObjects) return nullptr;
  arena_.push_back(std::make_unique<Object>());
  arena_.back()->kind = k;
  return arena_.back().get();
}

namespace {

class Machine {
 public:
  Machine(std::span<const std::uint8_t> p, std::function<Object*(Kind)> make) : p_(p), make_(std::move(make)) {}

  std::size_t end() const { return end_; }

  Result<const Object*> run() {
    while (true) {
      if (pos_ >= p_.size()) return Status::error("pickle ends without STOP (truncated?)");
      const std::size_t at = pos_;
      const std::uint8_t op = p_[pos_++];
      if (op == '.') {  // STOP
        if (stack_.size() != 1 || !marks_.empty()) return Status::error("malformed pickle: stack not empty at STOP");
        end_ = pos_;
        return static_cast<const Object*>(stack_.back());
      }
      Status st = step(op);
      if (!st.ok()) return st.with_context("pickle byte " + std::to_string(at) + " (opcode " + hex_byte(op) + ")");
    }
  }

 private:
  Status step(std::uint8_t op) {
    switch (op) {
      case 0x80:  // PROTO
        RESR_RETURN_IF_ERROR(need(1));
        if (p_[pos_] < 2 || p_[pos_] > 5)
          return Status::error("unsupported pickle protocol " + std::to_string(p_[pos_]));
        ++pos_;
        return {};
      case 0x95:  // FRAME: an 8-byte length; the framed opcodes follow inline
        return skip(8);
      case '(':  // MARK
        marks_.push_back(stack_.size());
        return {};
      case ')':
        return push_new(Kind::kTuple);
      case ']':
        return push_new(Kind::kList);
      case '}':
        return push_new(Kind::kDict);
      case 'N':
        return push_new(Kind::kNone);
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        RESR_RETURN_IF_ERROR(push_new(Kind::kBool));
        stack_.back()->i = op == 0x88;
        return {};
      }
      case 'K':
        return push_int(1, false);
      case 'M':
        return push_int(2, false);
      case 'J':
        return push_int(4, true);
      case 0x8a: {  // LONG1
        RESR_RETURN_IF_ERROR(need(1));
        const int n = p_[pos_++];
        if (n > 8) return Status::error("integer too large");
        return push_int(n, true);
      }
      case 'G': {  // BINFLOAT, big-endian double
        RESR_RETURN_IF_ERROR(need(8));
        std::uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[pos_ + k];
        pos_ += 8;
        RESR_RETURN_IF_ERROR(push_new(Kind::kFloat));
        std::memcpy(&stack_.back()->f, &bits, 8);
        return {};
      }
      case 'X':  // BINUNICODE
        return push_string(4, Kind::kString);
      case 0x8c:  // SHORT_BINUNICODE
        return push_string(1, Kind::kString);
      case 0x8d:  // BINUNICODE8
        return push_string(8, Kind::kString);
      case 'U':  // SHORT_BINSTRING
        return push_string(1, Kind::kString);
      case 'T':  // BINSTRING
        return push_string(4, Kind::kString);
      case 'C':  // SHORT_BINBYTES
        return push_string(1, Kind::kBytes);
      case 'B':  // BINBYTES
        return push_string(4, Kind::kBytes);
      case 0x8e:  // BINBYTES8
        return push_string(8, Kind::kBytes);
      case 'q':  // BINPUT
        return put(1);
      case 'r':  // LONG_BINPUT
        return put(4);
      case 0x94: {  // MEMOIZE
        if (stack_.empty()) return Status::error("MEMOIZE on an empty stack");
        return memoize(memo_.size());
      }
      case 'h':  // BINGET
        return get(1);
      case 'j':  // LONG_BINGET
        return get(4);
      case '0':  // POP
        if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
          return Status::error("POP on an empty stack");
        stack_.pop_back();
        return {};
      case '1': {  // POP_MARK
        RESR_ASSIGN_OR_RETURN(std::vector<Object*> items, pop_to_mark());
        (void)items;
        return {};
      }
      case '2':  // DUP
        if (stack_.empty()) return Status::error("DUP on an empty stack");
        stack_.push_back(stack_.back());
        return {};
      case 't':
      case 'l': {  // TUPLE, LIST
        RESR_ASSIGN_OR_RETURN(std::vector<Object*> items, pop_to_mark());
        RESR_RETURN_IF_ERROR(push_new(op == 't' ? Kind::kTuple : Kind::kList));
        stack_.back()->items.assign(items.begin(), items.end());
        return {};
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op - 0x84u;
        if (available() < n) return Status::error("tuple of " + std::to_string(n) + " on a shorter stack");
        Object* t = make_(Kind::kTuple);
        if (t == nullptr) return too_many();
        t->items.assign(stack_.end() - long(n), stack_.end());
        stack_.resize(stack_.size() - n);
        stack_.push_back(t);
        return {};
      }
      case 'd': {  // DICT
        RESR_ASSIGN_OR_RETURN(std::vector<Object*> items, pop_to_mark());
        RESR_RETURN_IF_ERROR(push_new(Kind::kDict));
        return set_items(stack_.back(), items);
      }
      case 's': {  // SETITEM
        if (available() < 3) return Status::error("SETITEM needs a dict, a key and a value");
        std::vector<Object*> kv(stack_.end() - 2, stack_.end());
        stack_.resize(stack_.size() - 2);
        return set_items(stack_.back(), kv);
      }
      case 'u': {  // SETITEMS
        RESR_ASSIGN_OR_RETURN(std::vector<Object*> items, pop_to_mark());
        if (stack_.empty()) return Status::error("SETITEMS without a dict");
        return set_items(stack_.back(), items);
      }
      case 'a': {  // APPEND
        if (available() < 2) return Status::error("APPEND needs a list and a value");
        Object* v = stack_.back();
        stack_.pop_back();
        if (stack_.back()->kind != Kind::kList) return Status::error("APPEND to a non-list");
        stack_.back()->items.push_back(v);
        return {};
      }
      case 'e': {  // APPENDS
        RESR_ASSIGN_OR_RETURN(std::vector<Object*> items, pop_to_mark());
        if (stack_.empty() || stack_.back()->kind != Kind::kList) return Status::error("APPENDS to a non-list");
        stack_.back()->items.insert(stack_.back()->items.end(), items.begin(), items.end());
        return {};
      }
      case 'c': {  // GLOBAL "module\nname\n"
        RESR_ASSIGN_OR_RETURN(std::string module, read_line());
        RESR_ASSIGN_OR_RETURN(std::string name, read_line());
        return push_global(module, name);
      }
      case 0x93: {  // STACK_GLOBAL
        if (available() < 2) return Status::error("STACK_GLOBAL needs two strings");
        const Object* name = stack_.back();
        const Object* module = stack_[stack_.size() - 2];
        if (module->kind != Kind::kString || name->kind != Kind::kString)
          return Status::error("STACK_GLOBAL needs two strings");
        stack_.resize(stack_.size() - 2);
        return push_global(module->s, name->s);
      }
      case 'Q':  // BINPERSID
        return persistent_load();
      case 'R':     // REDUCE
      case 0x81: {  // NEWOBJ (cls, args): the same for the callables we allow
        if (available() < 2) return Status::error("REDUCE needs a callable and arguments");
        const Object* args = stack_.back();
        const Object* fn = stack_[stack_.size() - 2];
        stack_.resize(stack_.size() - 2);
        RESR_ASSIGN_OR_RETURN(Object * r, reduce(fn, args));
        stack_.push_back(r);
        return {};
      }
      case 'b': {  // BUILD: state for OrderedDict (_metadata) or a Parameter: dropped, nothing is set
        if (available() < 2) return Status::error("BUILD needs an object and its state");
        stack_.pop_back();
        const Kind k = stack_.back()->kind;
        if (k != Kind::kDict && k != Kind::kTensor)
          return Status::error(std::string("BUILD on a ") + kind_name(k) + " is not allowed");
        return {};
      }
      default:
        return Status::error("unsupported pickle opcode " + hex_byte(op) + " (only state dicts can be loaded)");
    }
  }

  // --- helpers ---
  std::size_t available() const { return stack_.size() - (marks_.empty() ? 0 : marks_.back()); }
  Status need(std::size_t n) const {
    if (p_.size() - pos_ < n) return Status::error("pickle truncated");
    return {};
  }
  Status skip(std::size_t n) {
    RESR_RETURN_IF_ERROR(need(n));
    pos_ += n;
    return {};
  }
  Status too_many() const { return Status::error("too many objects in the pickle"); }
  Status push_new(Kind k) {
    Object* o = make_(k);
    if (o == nullptr) return too_many();
    stack_.push_back(o);
    return {};
  }
  std::uint64_t read_le(int n) {
    std::uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | p_[pos_ + k];
    pos_ += n;
    return v;
  }
  Status push_int(int n, bool is_signed) {
    RESR_RETURN_IF_ERROR(need(std::size_t(n)));
    std::uint64_t v = read_le(n);
    std::int64_t x = std::int64_t(v);
    if (is_signed && n > 0 && n < 8 && (v >> (8 * n - 1)) & 1u) x = std::int64_t(v | (~std::uint64_t{0} << (8 * n)));
    RESR_RETURN_IF_ERROR(push_new(Kind::kInt));
    stack_.back()->i = x;
    return {};
  }
  Status push_string(int len_bytes, Kind k) {
    RESR_RETURN_IF_ERROR(need(std::size_t(len_bytes)));
    const std::uint64_t n = read_le(len_bytes);
    if (n > kMaxString) return Status::error("string of " + std::to_string(n) + " bytes is too long");
    RESR_RETURN_IF_ERROR(need(std::size_t(n)));
    RESR_RETURN_IF_ERROR(push_new(k));
    stack_.back()->s.assign(reinterpret_cast<const char*>(p_.data() + pos_), std::size_t(n));
    pos_ += std::size_t(n);
    return {};
  }
  Result<std::string> read_line() {
    const std::size_t limit = std::min<std::size_t>(p_.size(), pos_ + 256);
    for (std::size_t k = pos_; k < limit; ++k) {
      if (p_[k] == '\n') {
        std::string s(reinterpret_cast<const char*>(p_.data() + pos_), k - pos_);
        pos_ = k + 1;
        return s;
      }
    }
    return Status::error("GLOBAL name not terminated");
  }
  Status memoize(std::size_t index) {
    if (index >= kMaxMemo) return Status::error("memo index " + std::to_string(index) + " out of range");
    memo_[index] = stack_.back();
    return {};
  }
  Status put(int n) {
    RESR_RETURN_IF_ERROR(need(std::size_t(n)));
    const std::uint64_t index = read_le(n);
    if (stack_.empty()) return Status::error("PUT on an empty stack");
    return memoize(std::size_t(std::min<std::uint64_t>(index, kMaxMemo)));
  }
  Status get(int n) {
    RESR_RETURN_IF_ERROR(need(std::size_t(n)));
    const std::uint64_t index = read_le(n);
    auto it = memo_.find(std::size_t(std::min<std::uint64_t>(index, kMaxMemo)));
    if (it == memo_.end()) return Status::error("memo entry " + std::to_string(index) + " was never stored");
    stack_.push_back(it->second);
    return {};
  }
  Result<std::vector<Object*>> pop_to_mark() {
    if (marks_.empty()) return Status::error("no MARK on the stack");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + long(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Status set_items(Object* dict, const std::vector<Object*>& kv) {
    if (dict->kind != Kind::kDict) return Status::error(std::string("SETITEM on a ") + kind_name(dict->kind));
    if (kv.size() % 2 != 0) return Status::error("odd number of items for a dict");
    // Repeated keys are kept in order; readers let the last one win, as Python does.
    for (std::size_t k = 0; k < kv.size(); k += 2) dict->entries.emplace_back(kv[k], kv[k + 1]);
    return {};
  }
  Status push_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!is_allowed_callable(full) && dtype_of_torch_storage(full) == nullptr) {
      if (full.find("Storage") != std::string::npos && module == "torch")
        return Status::error("tensor storage type '" + full + "' is not supported (only float and integer types)");
      return Status::error("refusing global '" + full +
                           "': not in the allow-list of a weights-only state dict (nothing was executed)");
    }
    RESR_RETURN_IF_ERROR(push_new(Kind::kGlobal));
    stack_.back()->s = full;
    return {};
  }
  Status persistent_load() {
    if (available() < 1) return Status::error("BINPERSID on an empty stack");
    const Object* t = stack_.back();
    stack_.pop_back();
    if (t->kind != Kind::kTuple || t->items.size() < 5 || t->items.size() > 6 || t->items[0]->kind != Kind::kString ||
        t->items[0]->s != "storage")
      return Status::error("persistent id is not ('storage', type, key, location, numel)");
    if (t->items.size() == 6 && t->items[5]->kind != Kind::kNone)
      return Status::error("storage views (legacy persistent ids with view metadata) are not supported");
    const Object* type = t->items[1];
    const Object* key = t->items[2];
    const Object* numel = t->items[4];
    if (type->kind != Kind::kGlobal || dtype_of_torch_storage(type->s) == nullptr)
      return Status::error("persistent id names no supported storage type");
    if (key->kind != Kind::kString || numel->kind != Kind::kInt || numel->i < 0)
      return Status::error("persistent id has a bad key or element count");
    RESR_RETURN_IF_ERROR(push_new(Kind::kStorage));
    Object* s = stack_.back();
    s->s = key->s;
    s->dtype = dtype_of_torch_storage(type->s);
    s->i = numel->i;
    return {};
  }
  static Result<std::vector<std::int64_t>> int_tuple(const Object* o, const char* what) {
    if (o->kind != Kind::kTuple && o->kind != Kind::kList) return Status::error(std::string(what) + " is not a tuple");
    if (o->items.size() > kMaxDims) return Status::error(std::string(what) + " has too many dimensions");
    std::vector<std::int64_t> v;
    for (const Object* x : o->items) {
      if (x->kind != Kind::kInt || x->i < 0 || x->i > (std::int64_t{1} << 40))
        return Status::error(std::string(what) + " holds a bad value");
      v.push_back(x->i);
    }
    return v;
  }
  Result<Object*> reduce(const Object* fn, const Object* args) {
    if (fn->kind != Kind::kGlobal) return Status::error(std::string("cannot call a ") + kind_name(fn->kind));
    if (args->kind != Kind::kTuple) return Status::error("call arguments are not a tuple");
    const auto& a = args->items;
    if (fn->s == "collections.OrderedDict") {
      if (!a.empty()) return Status::error("OrderedDict with arguments is not supported");
      Object* d = make_(Kind::kDict);
      if (d == nullptr) return too_many();
      return d;
    }
    if (fn->s == "torch._utils._rebuild_tensor_v2" || fn->s == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a.size() > 7) return Status::error(fn->s + ": expected 4 to 7 arguments");
      if (a[0]->kind != Kind::kStorage) return Status::error(fn->s + ": first argument is not a storage");
      if (a[1]->kind != Kind::kInt || a[1]->i < 0) return Status::error(fn->s + ": bad storage offset");
      Object* t = make_(Kind::kTensor);
      if (t == nullptr) return too_many();
      t->items = {a[0]};
      t->storage_offset = a[1]->i;
      RESR_ASSIGN_OR_RETURN(t->size, int_tuple(a[2], "tensor size"));
      RESR_ASSIGN_OR_RETURN(t->stride, int_tuple(a[3], "tensor stride"));
      if (t->size.size() != t->stride.size()) return Status::error(fn->s + ": size and stride lengths differ");
      return t;
    }
    if (fn->s == "torch._utils._rebuild_parameter" || fn->s == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != Kind::kTensor) return Status::error(fn->s + ": first argument is not a tensor");
      return const_cast<Object*>(a[0]);
    }
    return Status::error("global '" + fn->s + "' cannot be called");  // storage types
  }

  std::span<const std::uint8_t> p_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::function<Object*(Kind)> make_;
  std::vector<Object*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::size_t, Object*> memo_;
};

}  // namespace

Result<const Object*> Unpickler::run(std::span<const std::uint8_t> program, std::size_t* end) {
  Machine m(program, [this](Kind k) { return make(k); });
  auto root = m.run();
  if (root && end != nullptr) *end = m.end();
  return root;
}

std::vector<const Object*> Unpickler::storages() const {
  std::vector<const Object*> out;
  for (const auto& o : arena_)
    if (o->kind == Kind::kStorage) out.push_back(o.get());
  return out;
}

}  // namespace resr::formats::pickle
