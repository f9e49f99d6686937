"""The Open Inference Protocol (KServe V2, REST) next to /predict: tensors in, tensors out.

`tensors` fixes the names, datatypes and shapes (one place, read by the codec, the model
metadata and the OpenAPI schemas); `codec` turns an infer body into the same `Records` that
/predict builds (`checked` is its exact path) and the model output into a V2 answer;
`endpoints` is what each endpoint does; `schemas` documents the bodies in OpenAPI. The routes
are in `api.routes.v2`. docs/serving.md ("Open Inference Protocol") says what is accepted and
why.
"""
