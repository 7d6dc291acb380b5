// The one version string of sigrelay, sigrelayctl and the stats page.
#pragma once

#include <string_view>

namespace sigrelay::control {

#ifdef SIGRELAY_VERSION
inline constexpr std::string_view kVersion = SIGRELAY_VERSION;  // meson.build's project version
#else
inline constexpr std::string_view kVersion = "0.3.0";
#endif

}  // namespace sigrelay::control
