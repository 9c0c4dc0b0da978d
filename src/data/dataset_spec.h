// Turns the user's --data arguments into a Dataset.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/preprocess.h"

namespace nibble {

// Spec syntax (a path that exists is always taken as a path first):
//   idx:IMAGES[,LABELS]  IDX files, plain or .gz (MNIST, Fashion-MNIST)
//   images:DIR           image folder: class sub-folders (labelled) or images only
//   npy:PATH             folder of .npy files (optional labels.npy), or one .npy file
//   DIR                  a folder: .npy files or images, told apart by its content
//   FILE.npy             one .npy file (axis 0 = samples)
//   NAME=PATH ...        one .npy folder or file per named model input; give
//                        one spec per input, the folders holding the same file names
// Preprocessing applies to images and IDX; .npy data is used as stored.
std::unique_ptr<Dataset> OpenDataset(const std::vector<std::string>& specs, const Preprocess& pre);

// The text above, for --help.
extern const char kDatasetSpecHelp[];

}  // namespace nibble
