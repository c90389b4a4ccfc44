// Angle brackets do not hide an upward include.
#include <plan/search.h>
