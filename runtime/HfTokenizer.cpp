//===- HfTokenizer.cpp - Hugging Face tokenizer.json, byte-level BPE ------===//
//
// The tokenizers library's byte-level BPE (GPT-2, Llama 3, SmolLM2): added
// tokens split out first, GPT-2's pre-tokenizer regex (Unicode letter and
// number classes from ICU), optional single-digit splitting, bytes mapped
// to printable code points, merges applied by rank, and the post-processor
// template for the special tokens around a sequence. Anything else in a
// tokenizer.json (normalizers, other models) is refused by name.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/HfTokenizer.h"

#include <nlohmann/json.hpp>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <stdexcept>
#include <limits>
#include <sstream>

namespace actsparse::runtime {
namespace {

using json = nlohmann::json;

/// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others
/// to code points from 256 on, in order.
std::vector<std::string> byteToUnicode() {
  std::vector<std::string> table(256);
  auto utf8 = [](UChar32 c) {
    char buf[4];
    int32_t n = 0;
    U8_APPEND_UNSAFE(buf, n, c);
    return std::string(buf, n);
  };
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) ||
                     (b >= 0xae && b <= 0xff);
    table[b] = utf8(printable ? b : next++);
  }
  return table;
}

bool isLetter(UChar32 c) { return U_GET_GC_MASK(c) & U_GC_L_MASK; }
bool isNumber(UChar32 c) { return U_GET_GC_MASK(c) & U_GC_N_MASK; }
bool isSpace(UChar32 c) { return u_isUWhiteSpace(c); }

} // namespace

Status HfBpeTokenizer::load(const std::string &path, int vocabSize) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read tokenizer '" + path + "'");
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception &e) {
    return Status::error("tokenizer '" + path + "' is not valid JSON: " +
                         e.what());
  }
  auto fail = [&](const std::string &why) {
    return Status::error("tokenizer '" + path + "': " + why);
  };
  // Ids must be JSON integers: nlohmann's get<int64_t>() converts 1e300
  // with undefined behaviour (found by fuzzing).
  auto idOf = [](const json &v) -> int64_t {
    if (!v.is_number_integer())
      throw std::runtime_error("a token id is not an integer: " + v.dump());
    return v.get<int64_t>();
  };
  try {
    const json &model = j.at("model");
    if (model.value("type", "") != "BPE")
      return fail("model type '" + model.value("type", std::string("?")) +
                  "' is not supported (only byte-level BPE)");
    if (j.contains("normalizer") && !j["normalizer"].is_null()) {
      const json &n = j["normalizer"];
      if (!(n.value("type", "") == "Sequence" &&
            n.value("normalizers", json::array()).empty()))
        return fail("normalizer '" + n.value("type", std::string("?")) +
                    "' is not supported");
    }
    // Pre-tokenizer: ByteLevel, optionally after Digits.
    auto preTokenizer = [&](const json &p) -> Status {
      std::string type = p.value("type", "");
      if (type == "ByteLevel") {
        byteLevel_ = true;
        addPrefixSpace_ = p.value("add_prefix_space", false);
        useRegex_ = p.value("use_regex", true);
      } else if (type == "Digits") {
        splitDigits_ = p.value("individual_digits", false) ? 1 : 2;
      } else {
        return fail("pre-tokenizer '" + type + "' is not supported");
      }
      return {};
    };
    const json &pre = j.at("pre_tokenizer");
    if (pre.value("type", "") == "Sequence") {
      for (const json &p : pre.at("pretokenizers"))
        if (Status s = preTokenizer(p); !s)
          return s;
    } else if (Status s = preTokenizer(pre); !s) {
      return s;
    }
    if (!byteLevel_)
      return fail("only byte-level BPE is supported (no ByteLevel "
                  "pre-tokenizer)");

    // Vocabulary and merges.
    int64_t maxId = -1, minId = 0;
    for (auto &[piece, id] : model.at("vocab").items()) {
      maxId = std::max<int64_t>(maxId, idOf(id));
      minId = std::min<int64_t>(minId, idOf(id));
    }
    for (const json &a : j.value("added_tokens", json::array())) {
      maxId = std::max<int64_t>(maxId, idOf(a.at("id")));
      minId = std::min<int64_t>(minId, idOf(a.at("id")));
    }
    if (minId < 0)
      return fail("a token id is negative (" + std::to_string(minId) + ")");
    if (maxId < 0 || maxId >= std::numeric_limits<int>::max())
      return fail("its vocabulary is empty or too large");
    pieces_.assign(maxId + 1, std::string());
    for (auto &[piece, id] : model.at("vocab").items()) {
      pieces_[idOf(id)] = piece;
      index_[piece] = int(idOf(id));
    }
    int rank = 0;
    for (const json &m : model.at("merges")) {
      std::string a, b;
      if (m.is_string()) {
        std::string s = m.get<std::string>();
        size_t sp = s.find(' ', 1);
        if (sp == std::string::npos)
          return fail("merge '" + s + "' is not two symbols");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {
        a = m.at(0).get<std::string>();
        b = m.at(1).get<std::string>();
      }
      ranks_.emplace(a + '\x00' + b, rank++);
    }
    for (const json &a : j.value("added_tokens", json::array())) {
      Added t;
      t.content = a.at("content").get<std::string>();
      t.id = int(idOf(a.at("id")));
      if (t.content.empty())
        return fail("an added token is empty");
      pieces_[t.id] = t.content;
      addedIds_.insert(t.id);
      added_.push_back(std::move(t));
    }
    // Longest first, so "<|im_end|>" wins over any prefix of it.
    std::stable_sort(added_.begin(), added_.end(),
                     [](const Added &x, const Added &y) {
                       return x.content.size() > y.content.size();
                     });
    // Special tokens the post-processor puts around a single sequence.
    if (j.contains("post_processor") && !j["post_processor"].is_null()) {
      const json &pp = j["post_processor"];
      if (pp.value("type", "") == "TemplateProcessing") {
        bool afterSequence = false;
        for (const json &item : pp.at("single")) {
          if (item.contains("Sequence")) {
            afterSequence = true;
            continue;
          }
          std::string name = item.at("SpecialToken").at("id");
          int id = tokenId(name);
          if (id < 0)
            return fail("post-processor token '" + name + "' is unknown");
          (afterSequence ? suffix_ : prefix_).push_back(id);
        }
      } else if (pp.value("type", "") != "ByteLevel") {
        return fail("post-processor '" + pp.value("type", std::string("?")) +
                    "' is not supported");
      }
    }
    if (j.contains("decoder") && !j["decoder"].is_null()) {
      std::function<void(const json &)> scan = [&](const json &d) {
        if (d.value("type", "") == "Sequence")
          for (const json &x : d.at("decoders"))
            scan(x);
        else if (d.value("type", "") == "ByteFallback")
          byteFallback_ = true;
      };
      scan(j["decoder"]);
    }
  } catch (const std::exception &e) {
    return fail(std::string("unexpected structure: ") + e.what());
  }
  if ((int)pieces_.size() > vocabSize)
    return fail("it has " + std::to_string(pieces_.size()) +
                " tokens but the model has " + std::to_string(vocabSize));
  byteChars_ = byteToUnicode();
  for (int b = 0; b < 256; ++b)
    charBytes_[byteChars_[b]] = char(b);
  return {};
}

/// GPT-2's pre-tokenizer regex, by hand over code points:
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// (with single digits split off first when the tokenizer asks for it).
std::vector<std::string>
HfBpeTokenizer::preTokenize(const std::string &text) const {
  std::vector<UChar32> cps;
  std::vector<int32_t> offsets;
  for (int32_t i = 0, n = text.size(); i < n;) {
    offsets.push_back(i);
    UChar32 c;
    U8_NEXT(text.data(), i, n, c);
    cps.push_back(c < 0 ? 0xfffd : c);
  }
  offsets.push_back(text.size());
  std::vector<std::string> out;
  auto emit = [&](size_t a, size_t b) {
    out.push_back(text.substr(offsets[a], offsets[b] - offsets[a]));
  };
  size_t n = cps.size();
  if (!useRegex_) {
    if (n)
      emit(0, n);
    return out;
  }
  auto cls = [&](size_t k) {
    UChar32 c = cps[k];
    if (splitDigits_ && u_isdigit(c))
      return 'D';
    return isLetter(c) ? 'L' : isNumber(c) ? 'N' : isSpace(c) ? 'S' : 'O';
  };
  for (size_t i = 0; i < n;) {
    // Contractions.
    if (cps[i] == '\'' && i + 1 < n) {
      static const char *const suffixes[] = {"s", "t", "re", "ve", "m", "ll",
                                             "d"};
      size_t best = 0;
      for (const char *s : suffixes) {
        size_t len = std::char_traits<char>::length(s);
        if (i + 1 + len <= n &&
            std::equal(s, s + len, cps.begin() + i + 1,
                       [](char a, UChar32 b) { return UChar32(a) == b; }))
          best = std::max(best, len);
      }
      if (best) {
        emit(i, i + 1 + best);
        i += 1 + best;
        continue;
      }
    }
    // ' ?' then a run of one class (letters, numbers, or other).
    size_t j = i + (cps[i] == ' ' && i + 1 < n && cls(i + 1) != 'S' ? 1 : 0);
    char c = cls(j);
    if (c == 'D') {
      // Digits(individual_digits) splits every digit off on its own.
      if (j > i)
        emit(i, j);
      emit(j, j + 1);
      i = j + 1;
      continue;
    }
    if (c != 'S') {
      size_t k = j + 1;
      while (k < n && cls(k) == c)
        ++k;
      emit(i, k);
      i = k;
      continue;
    }
    // Whitespace: \s+(?!\S), else \s+ (one character).
    size_t k = i;
    while (k < n && cls(k) == 'S')
      ++k;
    if (k == n || k - 1 == i) {
      emit(i, k == n ? n : k);
      i = k == n ? n : k;
    } else {
      emit(i, k - 1);
      i = k - 1;
    }
  }
  return out;
}

void HfBpeTokenizer::bpe(const std::string &word, std::vector<int> &ids) const {
  if (auto it = cache_.find(word); it != cache_.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<std::string> syms;
  for (unsigned char b : word)
    syms.push_back(byteChars_[b]);
  while (syms.size() > 1) {
    int bestRank = std::numeric_limits<int>::max();
    size_t best = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      auto it = ranks_.find(syms[i] + '\x00' + syms[i + 1]);
      if (it != ranks_.end() && it->second < bestRank) {
        bestRank = it->second;
        best = i;
      }
    }
    if (bestRank == std::numeric_limits<int>::max())
      break;
    syms[best] += syms[best + 1];
    syms.erase(syms.begin() + best + 1);
  }
  std::vector<int> out;
  for (const std::string &s : syms) {
    auto it = index_.find(s);
    if (it != index_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Not in the vocabulary (a merge-less byte): one token per byte char.
    for (size_t k = 0; k < s.size();) {
      int32_t i = k, n = s.size();
      UChar32 c;
      U8_NEXT(s.data(), i, n, c);
      auto one = index_.find(s.substr(k, i - k));
      if (one != index_.end())
        out.push_back(one->second);
      k = i;
    }
  }
  ids.insert(ids.end(), out.begin(), out.end());
  cache_.emplace(word, std::move(out));
}

std::vector<int> HfBpeTokenizer::encode(const std::string &text,
                                        bool specials) const {
  std::vector<int> ids;
  if (specials)
    ids = prefix_;
  // Added tokens are matched first, anywhere; the text between them goes
  // through the pre-tokenizer and BPE.
  size_t start = 0;
  auto plain = [&](size_t a, size_t b) {
    if (a >= b)
      return;
    std::string part = text.substr(a, b - a);
    if (addPrefixSpace_ && a == 0 && !part.empty() && part[0] != ' ')
      part.insert(part.begin(), ' ');
    for (const std::string &w : preTokenize(part))
      bpe(w, ids);
  };
  for (size_t i = 0; i < text.size();) {
    const Added *hit = nullptr;
    for (const Added &t : added_)
      if (text.compare(i, t.content.size(), t.content) == 0) {
        hit = &t;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    plain(start, i);
    ids.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  plain(start, text.size());
  if (specials)
    ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

std::string HfBpeTokenizer::decode(int /*prev*/, int token) const {
  if (token < 0 || token >= (int)pieces_.size())
    return std::string();
  const std::string &piece = pieces_[token];
  if (addedIds_.count(token))
    return piece;
  // <0xAB> byte tokens, then byte-level characters back to bytes.
  if (byteFallback_ && piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 &&
      piece[5] == '>' && std::isxdigit((unsigned char)piece[3]) &&
      std::isxdigit((unsigned char)piece[4]))
    return std::string(1, char(std::strtol(piece.substr(3, 2).c_str(),
                                           nullptr, 16)));
  std::string out;
  for (int32_t i = 0, n = piece.size(); i < n;) {
    int32_t k = i;
    UChar32 c;
    U8_NEXT(piece.data(), i, n, c);
    std::string ch = piece.substr(k, i - k);
    auto it = charBytes_.find(ch);
    out += it != charBytes_.end() ? std::string(1, it->second) : ch;
  }
  return out;
}

int HfBpeTokenizer::tokenId(const std::string &piece) const {
  for (const Added &t : added_)
    if (t.content == piece)
      return t.id;
  auto it = index_.find(piece);
  return it == index_.end() ? -1 : it->second;
}

} // namespace actsparse::runtime
