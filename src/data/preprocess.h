// How a decoded image (or an IDX picture) becomes a model input tensor: the
// torchvision-style chain resize -> center crop -> scale -> normalize, then
// channel order and layout. One struct, filled from CLI options.
#pragma once
#include <string>
#include <vector>

#include "nibble/tensor.h"

namespace nibble {

enum class Layout { kNCHW, kNHWC };
enum class ChannelOrder { kRGB, kBGR };

struct Preprocess {
  // Resize (off when all are 0): either the shorter side to resize_shorter
  // (the longer one keeps the aspect ratio, truncated like torchvision's
  // Resize(int)), or exactly resize_width x resize_height. Bilinear with
  // antialiasing when shrinking (a triangle filter, like PIL's BILINEAR).
  int resize_shorter = 0;
  int resize_width = 0;
  int resize_height = 0;
  // Center crop to crop_width x crop_height (off when 0); offsets rounded like
  // torchvision's CenterCrop. An image smaller than the crop is an error.
  int crop_width = 0;
  int crop_height = 0;
  // Divide pixel values by 255 (to [0,1]) before normalizing.
  bool scale = true;
  // (x - mean[c]) / stddev[c], per output channel in output order (so for BGR
  // the first value is blue's). Empty = off; one value = all channels.
  std::vector<float> mean;
  std::vector<float> stddev;
  Layout layout = Layout::kNCHW;
  ChannelOrder order = ChannelOrder::kRGB;
  // One luma channel (0.299 R + 0.587 G + 0.114 B, unrounded) instead of RGB.
  // Images with alpha lose it; gray images become RGB unless this is set.
  bool grayscale = false;
};

// Fails with a clear message on nonsense (negative sizes, zero stddev,
// mean/stddev of a length that fits no channel count, both resize forms).
void ValidatePreprocess(const Preprocess& p);

// CLI string helpers. Sizes are "N" (square / shorter side) or "WxH".
void ParseResize(const std::string& s, Preprocess* p);  // "256" or "320x240"
void ParseCrop(const std::string& s, Preprocess* p);    // "224" or "224x200"
std::vector<float> ParseFloatList(const std::string& s, const char* what);  // "0.485,0.456,0.406"
Layout ParseLayout(const std::string& s);               // "NCHW" | "NHWC"
ChannelOrder ParseChannelOrder(const std::string& s);   // "RGB" | "BGR"

// Runs the chain on an interleaved (HWC) float image with pixel values in
// [0,255] and `channels` channels (1 or 3; RGB order if 3). Returns float32
// [1,C,H,W] or [1,H,W,C]. `where` names the source in error messages.
Tensor PreprocessImage(const float* hwc, int height, int width, int channels, const Preprocess& p,
                       const std::string& where);

}  // namespace nibble
