//===- Tokenizer.cpp - llama2.c tokenizer and sampler ---------------------===//
//
// Follows llama2.c's run.c rules exactly; see Tokenizer.h.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace actsparse::runtime {

Status Llama2cTokenizer::load(const std::string &path, int vocabSize) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot open tokenizer '" + path + "'");
  in.seekg(0, std::ios::end);
  int64_t fileSize = in.tellg();
  in.seekg(0);
  int32_t maxLen;
  if (!in.read(reinterpret_cast<char *>(&maxLen), 4) || maxLen <= 0)
    return Status::error("tokenizer '" + path + "' has no valid header");
  pieces_.clear();
  scores_.clear();
  index_.clear();
  for (int i = 0; i < vocabSize; ++i) {
    float score;
    int32_t len;
    if (!in.read(reinterpret_cast<char *>(&score), 4) ||
        !in.read(reinterpret_cast<char *>(&len), 4) || len < 0 ||
        len > maxLen)
      return Status::error("tokenizer '" + path + "' ends or is damaged at "
                           "token " + std::to_string(i) + " of " +
                           std::to_string(vocabSize));
    // A length field is never trusted for more than the file holds.
    if (len > fileSize - int64_t(in.tellg()))
      return Status::error("tokenizer '" + path + "' is truncated (token " +
                           std::to_string(i) + " claims " +
                           std::to_string(len) + " bytes)");
    std::string piece(len, '\0');
    if (!in.read(piece.data(), len))
      return Status::error("tokenizer '" + path + "' is truncated");
    index_.emplace(piece, i);
    pieces_.push_back(std::move(piece));
    scores_.push_back(score);
  }
  return {};
}

int Llama2cTokenizer::lookup(const std::string &s) const {
  auto it = index_.find(s);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int> Llama2cTokenizer::encode(const std::string &text, bool bos) const {
  std::vector<int> tokens;
  if (bos)
    tokens.push_back(kBos);
  if (!text.empty()) {
    int space = lookup(" ");
    if (space >= 0)
      tokens.push_back(space);
  }
  for (size_t i = 0; i < text.size();) {
    // One UTF-8 code point: a lead byte and its continuation bytes.
    size_t n = 1;
    while (i + n < text.size() && (text[i + n] & 0xC0) == 0x80 && n < 4)
      ++n;
    std::string cp = text.substr(i, n);
    int id = lookup(cp);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (unsigned char c : cp) // byte fallback: <0x00> is token 3
        tokens.push_back(int(c) + 3);
    }
    i += n;
  }
  // Merge the best-scoring adjacent pair until none is in the vocabulary.
  while (true) {
    float best = -1e10f;
    int bestId = -1;
    size_t bestIdx = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      int id = lookup(pieces_[tokens[i]] + pieces_[tokens[i + 1]]);
      if (id >= 0 && scores_[id] > best) {
        best = scores_[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestId < 0)
      break;
    tokens[bestIdx] = bestId;
    tokens.erase(tokens.begin() + bestIdx + 1);
  }
  return tokens;
}

std::string Llama2cTokenizer::decode(int prev, int token) const {
  if (token < 0 || token >= vocabSize())
    return "";
  std::string piece = pieces_[token];
  if (prev == kBos && !piece.empty() && piece[0] == ' ')
    piece.erase(0, 1);
  unsigned byte;
  if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%02X>", &byte) == 1)
    piece = std::string(1, char(byte));
  return piece;
}

float Sampler::randomF32() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  uint32_t r = uint32_t((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  return (r >> 8) / 16777216.0f;
}

int Sampler::sample(const float *logits, int n) {
  if (temperature_ == 0.0f)
    return int(std::max_element(logits, logits + n) - logits);
  std::vector<float> p(logits, logits + n);
  float max = *std::max_element(p.begin(), p.end());
  float sum = 0;
  for (float &x : p) {
    x = std::exp((x - max) / temperature_);
    sum += x;
  }
  for (float &x : p)
    x /= sum;
  float coin = randomF32();
  if (topp_ <= 0.0f || topp_ >= 1.0f) {
    float cdf = 0;
    for (int i = 0; i < n; ++i) {
      cdf += p[i];
      if (coin < cdf)
        return i;
    }
    return n - 1;
  }
  // Top-p: the smallest set of most likely tokens whose mass exceeds topp.
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return p[a] > p[b]; });
  float mass = 0;
  int last = n - 1;
  for (int i = 0; i < n; ++i) {
    mass += p[order[i]];
    if (mass > topp_) {
      last = i;
      break;
    }
  }
  float r = coin * mass, cdf = 0;
  for (int i = 0; i <= last; ++i) {
    cdf += p[order[i]];
    if (r < cdf)
      return order[i];
  }
  return order[last];
}

bool parseTokenIds(const std::string &text, std::vector<int> &ids,
                   std::string &error) {
  auto isSeparator = [](char c) {
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           c == '\v' || c == '\f';
  };
  size_t i = 0, n = text.size();
  while (i < n) {
    if (isSeparator(text[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < n && !isSeparator(text[i]))
      ++i;
    std::string word = text.substr(start, i - start);
    // Digits only: strtol alone would take "+7", " 7", "0x7" and, past
    // LONG_MAX, a silently clamped value.
    bool digits = word.size() <= 10 &&
                  std::all_of(word.begin(), word.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    long long v = digits ? std::strtoll(word.c_str(), nullptr, 10) : -1;
    if (!digits || v > INT_MAX) {
      if (word.size() > 40)
        word = word.substr(0, 40) + "...";
      error = "'" + word + "' is not a token id (0 to " +
              std::to_string(INT_MAX) + ")";
      return false;
    }
    ids.push_back(int(v));
  }
  return true;
}

} // namespace actsparse::runtime
