// The whole library entry point in one include, for callers that use several command families
// (the Python package, the local web page). Each api_*.h can also be included on its own.
//
//   #include "dlcost/api.h"
//   namespace api = dlcost::api;
//   DLCOST_ASSIGN_OR_RETURN(api::Session s, api::Session::Open());
//   api::TrainRequest t;  ...  api::Train(s, t);
//   api::InferRequest i;  ...  api::Infer(s, i);
#pragma once

#include "dlcost/api_audit.h"
#include "dlcost/api_bands.h"
#include "dlcost/api_catalog.h"
#include "dlcost/api_drift.h"
#include "dlcost/api_ledger.h"
#include "dlcost/api_measure.h"
#include "dlcost/api_plan.h"
#include "dlcost/api_serve.h"
#include "dlcost/api_session.h"
#include "dlcost/api_train.h"
#include "dlcost/api_validate.h"
