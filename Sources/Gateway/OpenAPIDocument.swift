/// The OpenAPI 3.1 document of every public route, written by hand (the routes stay Hummingbird
/// handlers with Plume's request context; swift-openapi-generator's handlers would not receive
/// it). `OpenAPITests` checks it against the router: every route is documented and every
/// documented route exists. Served at `GET /v1/openapi.json`.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Plume",
    "version": "1",
    "description": "Plume's public HTTP API. Every response carries `X-Request-Id`; every error is `{\"error\": {\"code\", \"message\"}}`."
  },
  "paths": {
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Liveness",
        "responses": {
          "200": {
            "description": "the process is up",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "status"
                  ],
                  "properties": {
                    "status": {
                      "type": "string",
                      "const": "ok"
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "/ready": {
      "get": {
        "operationId": "ready",
        "summary": "Readiness: joined and serving its shards",
        "responses": {
          "200": {
            "description": "ready",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Ready"
                }
              }
            }
          },
          "503": {
            "description": "not ready yet",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Ready"
                }
              }
            }
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "description": "On the node's admin listener instead when `[[node]] admin` is set.",
        "responses": {
          "200": {
            "description": "Prometheus text format",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    },
    "/v1/cluster": {
      "get": {
        "operationId": "cluster",
        "summary": "This node's view of the cluster",
        "description": "On the node's admin listener instead when `[[node]] admin` is set.",
        "responses": {
          "200": {
            "description": "members and shard table",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Cluster"
                }
              }
            }
          }
        }
      }
    },
    "/v1/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {
          "200": {
            "description": "the OpenAPI 3.1 document",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    },
    "/v1/auth/signup": {
      "post": {
        "operationId": "signup",
        "summary": "Create an account and a session",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Signup"
              }
            }
          }
        },
        "responses": {
          "201": {
            "$ref": "#/components/responses/Tokens"
          },
          "400": {
            "$ref": "#/components/responses/MalformedJSON"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "409": {
            "description": "error codes: `username_taken`, `email_taken`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "422": {
            "description": "error codes: `invalid_username`, `invalid_email`, `invalid_password`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      }
    },
    "/v1/auth/login": {
      "post": {
        "operationId": "login",
        "summary": "Open a session with a username or an email and the password",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Login"
              }
            }
          }
        },
        "responses": {
          "200": {
            "$ref": "#/components/responses/Tokens"
          },
          "400": {
            "$ref": "#/components/responses/MalformedJSON"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "401": {
            "description": "error codes: `invalid_credentials`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "422": {
            "description": "error codes: `invalid_username`, `invalid_password`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      }
    },
    "/v1/auth/refresh": {
      "post": {
        "operationId": "refresh",
        "summary": "Rotate a refresh token (presenting an old one revokes its session)",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Refresh"
              }
            }
          }
        },
        "responses": {
          "200": {
            "$ref": "#/components/responses/Tokens"
          },
          "400": {
            "$ref": "#/components/responses/MalformedJSON"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "422": {
            "description": "error codes: `invalid_refresh_token`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      }
    },
    "/v1/auth/logout": {
      "post": {
        "operationId": "logout",
        "summary": "End the access token's session",
        "security": [
          {
            "bearer": []
          }
        ],
        "responses": {
          "204": {
            "description": "the session is over"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      }
    },
    "/v1/users/me": {
      "get": {
        "operationId": "me",
        "summary": "The caller's account",
        "security": [
          {
            "bearer": []
          }
        ],
        "responses": {
          "200": {
            "description": "the account, with its email",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      },
      "patch": {
        "operationId": "updateProfile",
        "summary": "Change the profile: an absent field stays, `null` clears an optional one",
        "security": [
          {
            "bearer": []
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ProfileChange"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "the account after the change",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/MalformedJSON"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "422": {
            "description": "error codes: `unknown_field`, `invalid_display_name`, `invalid_bio`, `invalid_avatar_url`, `invalid_country`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      }
    },
    "/v1/users/{id}": {
      "get": {
        "operationId": "user",
        "summary": "A user's public profile",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "the public profile (no email)",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/User"
                }
              }
            }
          },
          "404": {
            "description": "error codes: `not_found`",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "504": {
            "$ref": "#/components/responses/Timeout"
          }
        }
      }
    }
  },
  "components": {
    "responses": {
      "Unavailable": {
        "description": "`overloaded` (with `Retry-After`: nothing was applied, retry shortly) or `unavailable` (no primary yet, node stopping)",
        "headers": {
          "Retry-After": {
            "schema": {
              "type": "integer"
            },
            "description": "seconds, with `overloaded`"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Timeout": {
        "description": "`timeout`: no answer in time; a write may or may not have been applied",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "MalformedJSON": {
        "description": "error codes: `malformed_json`",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "PayloadTooLarge": {
        "description": "error codes: `payload_too_large`",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "RateLimited": {
        "description": "`rate_limited` (per client address on sign-up, login and refresh; per user on every write) or `too_many_failed_logins`, with `Retry-After`",
        "headers": {
          "Retry-After": {
            "schema": {
              "type": "integer"
            }
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Unauthorized": {
        "description": "error codes: `unauthorized`",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Tokens": {
        "description": "the account and its new tokens (`Cache-Control: no-store`)",
        "headers": {
          "Cache-Control": {
            "schema": {
              "type": "string",
              "const": "no-store"
            }
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Tokens"
            }
          }
        }
      }
    },
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT"
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": [
          "error"
        ],
        "properties": {
          "error": {
            "type": "object",
            "required": [
              "code",
              "message"
            ],
            "properties": {
              "code": {
                "type": "string",
                "pattern": "^[a-z0-9_]+$"
              },
              "message": {
                "type": "string"
              }
            }
          }
        }
      },
      "Ready": {
        "type": "object",
        "required": [
          "ready",
          "node"
        ],
        "properties": {
          "ready": {
            "type": "boolean"
          },
          "node": {
            "type": "string"
          }
        }
      },
      "User": {
        "type": "object",
        "required": [
          "id",
          "username",
          "display_name",
          "bio",
          "created_at"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "username": {
            "type": "string"
          },
          "email": {
            "type": "string"
          },
          "display_name": {
            "type": "string"
          },
          "bio": {
            "type": "string"
          },
          "avatar_url": {
            "type": "string"
          },
          "country": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "Tokens": {
        "type": "object",
        "required": [
          "user",
          "access_token",
          "refresh_token",
          "expires_in",
          "token_type"
        ],
        "properties": {
          "user": {
            "$ref": "#/components/schemas/User"
          },
          "access_token": {
            "type": "string"
          },
          "refresh_token": {
            "type": "string"
          },
          "expires_in": {
            "type": "integer"
          },
          "token_type": {
            "type": "string",
            "const": "Bearer"
          }
        }
      },
      "Signup": {
        "type": "object",
        "required": [
          "username",
          "email",
          "password"
        ],
        "properties": {
          "username": {
            "type": "string",
            "minLength": 3,
            "maxLength": 32
          },
          "email": {
            "type": "string"
          },
          "password": {
            "type": "string",
            "minLength": 8
          }
        }
      },
      "Login": {
        "type": "object",
        "required": [
          "password"
        ],
        "properties": {
          "username": {
            "type": "string"
          },
          "email": {
            "type": "string"
          },
          "password": {
            "type": "string"
          }
        }
      },
      "Refresh": {
        "type": "object",
        "required": [
          "refresh_token"
        ],
        "properties": {
          "refresh_token": {
            "type": "string"
          }
        }
      },
      "ProfileChange": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "display_name": {
            "type": "string"
          },
          "bio": {
            "type": "string"
          },
          "avatar_url": {
            "type": [
              "string",
              "null"
            ]
          },
          "country": {
            "type": [
              "string",
              "null"
            ]
          }
        }
      },
      "Cluster": {
        "type": "object",
        "required": [
          "node",
          "ready",
          "members",
          "shards"
        ],
        "properties": {
          "node": {
            "type": "string"
          },
          "ready": {
            "type": "boolean"
          },
          "members": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "id",
                "cluster_addr",
                "status",
                "incarnation"
              ],
              "properties": {
                "id": {
                  "type": "string"
                },
                "cluster_addr": {
                  "type": "string"
                },
                "http_addr": {
                  "type": "string"
                },
                "status": {
                  "type": "string",
                  "enum": [
                    "alive",
                    "suspect",
                    "dead",
                    "left"
                  ]
                },
                "incarnation": {
                  "type": "integer"
                }
              }
            }
          },
          "shards": {
            "type": "object",
            "required": [
              "count",
              "replication",
              "table"
            ],
            "properties": {
              "count": {
                "type": "integer"
              },
              "replication": {
                "type": "integer"
              },
              "table": {
                "type": "array",
                "items": {
                  "type": "object",
                  "required": [
                    "shard",
                    "replicas"
                  ],
                  "properties": {
                    "shard": {
                      "type": "integer"
                    },
                    "replicas": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    },
                    "primary": {
                      "type": "string"
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""#
}
