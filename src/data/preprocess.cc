#include "data/preprocess.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "base/limits.h"
#include "stb_image_resize.h"

namespace nibble {
namespace {

constexpr int kMaxSide = 1 << 16;

int ParseSide(const std::string& s, const char* what, const std::string& whole) {
  NIBBLE_CHECK(!s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }),
               what, " '", whole, "': expected N or WxH with positive integers");
  int v = std::atoi(s.c_str());
  NIBBLE_CHECK(v > 0 && v <= kMaxSide, what, " '", whole, "': sizes must be in [1, ", kMaxSide, "]");
  return v;
}

// "N" -> (N, N, false); "WxH" -> (W, H, true).
void ParseSize(const std::string& s, const char* what, int* w, int* h, bool* two) {
  size_t x = s.find_first_of("xX");
  *two = x != std::string::npos;
  if (!*two) {
    *w = *h = ParseSide(s, what, s);
  } else {
    *w = ParseSide(s.substr(0, x), what, s);
    *h = ParseSide(s.substr(x + 1), what, s);
  }
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Python's round() on (d / 2): half to even, as torchvision's CenterCrop does.
int CenterOffset(int d) {
  int k = d / 2;
  if (d % 2 == 0) return k;
  return (k % 2 == 0) ? k : k + 1;
}

}  // namespace

void ValidatePreprocess(const Preprocess& p) {
  NIBBLE_CHECK(p.resize_shorter >= 0 && p.resize_width >= 0 && p.resize_height >= 0 && p.crop_width >= 0 &&
                   p.crop_height >= 0,
               "preprocessing: negative resize or crop size");
  NIBBLE_CHECK(p.resize_shorter <= kMaxSide && p.resize_width <= kMaxSide && p.resize_height <= kMaxSide &&
                   p.crop_width <= kMaxSide && p.crop_height <= kMaxSide,
               "preprocessing: resize and crop sizes must be at most ", kMaxSide);
  NIBBLE_CHECK(!(p.resize_shorter > 0 && (p.resize_width > 0 || p.resize_height > 0)),
               "preprocessing: give either a shorter-side resize or a WxH resize, not both");
  NIBBLE_CHECK((p.resize_width > 0) == (p.resize_height > 0), "preprocessing: a WxH resize needs both width and height");
  NIBBLE_CHECK((p.crop_width > 0) == (p.crop_height > 0), "preprocessing: a crop needs both width and height");
  for (const auto* v : {&p.mean, &p.stddev}) {
    const char* name = v == &p.mean ? "mean" : "std";
    NIBBLE_CHECK(v->size() <= 1 || v->size() == 3, "preprocessing: ", name, " has ", v->size(),
                 " values; expected 1 (all channels) or 3 (one per channel)");
    NIBBLE_CHECK(!(p.grayscale && v->size() == 3), "preprocessing: ", name,
                 " has 3 values but grayscale output has 1 channel");
    for (float x : *v) NIBBLE_CHECK(std::isfinite(x), "preprocessing: ", name, " value ", x, " is not finite");
  }
  for (float s : p.stddev) NIBBLE_CHECK(s != 0.f, "preprocessing: std must not be 0");
}

void ParseResize(const std::string& s, Preprocess* p) {
  int w, h;
  bool two;
  ParseSize(s, "resize", &w, &h, &two);
  p->resize_shorter = two ? 0 : w;
  p->resize_width = two ? w : 0;
  p->resize_height = two ? h : 0;
}

void ParseCrop(const std::string& s, Preprocess* p) {
  bool two;
  ParseSize(s, "crop", &p->crop_width, &p->crop_height, &two);
}

std::vector<float> ParseFloatList(const std::string& s, const char* what) {
  std::vector<float> out;
  size_t pos = 0;
  while (true) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    float v = item.empty() ? 0.f : std::strtof(item.c_str(), &end);
    NIBBLE_CHECK(!item.empty() && end && *end == '\0' && std::isfinite(v), what, " '", s,
                 "': expected comma-separated numbers, e.g. 0.485,0.456,0.406");
    out.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

Layout ParseLayout(const std::string& s) {
  std::string l = Lower(s);
  if (l == "nchw") return Layout::kNCHW;
  if (l == "nhwc") return Layout::kNHWC;
  Fail("layout '", s, "': expected NCHW or NHWC");
}

ChannelOrder ParseChannelOrder(const std::string& s) {
  std::string l = Lower(s);
  if (l == "rgb") return ChannelOrder::kRGB;
  if (l == "bgr") return ChannelOrder::kBGR;
  Fail("channel order '", s, "': expected RGB or BGR");
}

Tensor PreprocessImage(const float* hwc, int height, int width, int channels, const Preprocess& p,
                       const std::string& where) {
  NIBBLE_CHECK(channels == 1 || channels == 3, where, ": ", channels, " channels; expected 1 or 3");
  NIBBLE_CHECK(height > 0 && width > 0, where, ": empty image (", width, "x", height, ")");
  for (const auto* v : {&p.mean, &p.stddev})
    NIBBLE_CHECK(v->size() <= 1 || static_cast<int>(v->size()) == channels, where, ": ",
                 v == &p.mean ? "mean" : "std", " has ", v->size(), " values but the image has ", channels,
                 " channel", channels == 1 ? "" : "s");

  // 1. Resize.
  int h = height, w = width;
  if (p.resize_shorter > 0) {
    // The longer side keeps the aspect ratio, truncated as torchvision's int() does.
    int64_t n = p.resize_shorter;
    const bool portrait = width <= height;
    int64_t longer = std::max<int64_t>(1, portrait ? n * height / width : n * width / height);
    NIBBLE_CHECK(longer <= (1 << 20), where, ": resizing ", width, "x", height, " to shorter side ", n,
                 " makes the longer side ", longer, " pixels");
    h = static_cast<int>(portrait ? longer : n);
    w = static_cast<int>(portrait ? n : longer);
  } else if (p.resize_width > 0) {
    w = p.resize_width;
    h = p.resize_height;
  }
  std::vector<float> resized;
  const float* img = hwc;
  if (h != height || w != width) {
    NIBBLE_CHECK(static_cast<int64_t>(w) * h * channels <= MaxTensorBytes() / 4, where, ": resize to ", w, "x", h,
                 " is too large");
    resized.resize(static_cast<size_t>(w) * h * channels);
    int ok = stbir_resize_float_generic(hwc, width, height, 0, resized.data(), w, h, 0, channels,
                                        STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE,
                                        STBIR_COLORSPACE_LINEAR, nullptr);
    NIBBLE_CHECK(ok, where, ": resizing ", width, "x", height, " to ", w, "x", h, " failed");
    img = resized.data();
  }

  // 2. Center crop.
  int top = 0, left = 0, oh = h, ow = w;
  if (p.crop_width > 0) {
    NIBBLE_CHECK(p.crop_width <= w && p.crop_height <= h, where, ": image is ", w, "x", h,
                 (resized.empty() ? "" : " after resizing"), ", smaller than the ", p.crop_width, "x", p.crop_height,
                 " crop (add a resize)");
    oh = p.crop_height;
    ow = p.crop_width;
    top = CenterOffset(h - oh);
    left = CenterOffset(w - ow);
  }

  // 3. Scale, normalize, reorder channels, lay out.
  const int c_count = channels;
  float mean_c[3], std_c[3];
  for (int oc = 0; oc < c_count; ++oc) {
    mean_c[oc] = p.mean.empty() ? 0.f : p.mean[p.mean.size() == 1 ? 0 : oc];
    std_c[oc] = p.stddev.empty() ? 1.f : p.stddev[p.stddev.size() == 1 ? 0 : oc];
  }
  bool bgr = p.order == ChannelOrder::kBGR && c_count == 3;
  Shape shape = p.layout == Layout::kNCHW ? Shape{1, c_count, oh, ow} : Shape{1, oh, ow, c_count};
  Tensor out(DType::kFloat32, shape);
  float* o = out.data<float>();
  for (int y = 0; y < oh; ++y) {
    const float* row = img + (static_cast<size_t>(y + top) * w + left) * c_count;
    for (int x = 0; x < ow; ++x) {
      for (int oc = 0; oc < c_count; ++oc) {
        int sc = bgr ? 2 - oc : oc;
        // Divisions, not multiplications by reciprocals: (x / 255 - mean) / std exactly as written.
        float v = row[static_cast<size_t>(x) * c_count + sc];
        if (p.scale) v = v / 255.f;
        v = (v - mean_c[oc]) / std_c[oc];
        size_t idx = p.layout == Layout::kNCHW ? (static_cast<size_t>(oc) * oh + y) * ow + x
                                               : (static_cast<size_t>(y) * ow + x) * c_count + oc;
        o[idx] = v;
      }
    }
  }
  return out;
}

}  // namespace nibble
