// A header of no module.
#pragma once
